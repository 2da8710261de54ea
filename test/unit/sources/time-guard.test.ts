// TimeGuard (issue 9): timestamps near the source's clock pass, far ones are clamped and
// counted, agreeing outliers in a row move the clock, invalid values never reach the pipeline.

import t from 'tap';
import { TimeGuard, DEFAULT_MAX_SKEW_MS, DEFAULT_CONFIRM } from '../../../collector/sources/time-guard.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { PacketInfo } from '../../../collector/decode/packet.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../helpers/paths.js';

const T0 = Date.UTC(2024, 8, 24, 8, 22, 44); // a real capture's time
const DAY = 86_400_000;
const YEARS_150 = 150 * 365.25 * DAY;

t.test('defaults: 1 day, 4 to confirm', async (t) => {
  const g = new TimeGuard();
  t.equal(g.maxSkewMs, DAY);
  t.equal(DEFAULT_MAX_SKEW_MS, DAY);
  t.equal(g.confirm, 4);
  t.equal(DEFAULT_CONFIRM, 4);
  t.ok(Number.isNaN(g.clock), 'no clock before the first timestamp');
  t.throws(() => new TimeGuard({ confirm: 0 }), RangeError);
  t.throws(() => new TimeGuard({ maxSkewMs: -1 }), RangeError);
});

t.test('accepts: the first seeds the clock, later ones within the skew pass as they are', async (t) => {
  const g = new TimeGuard();
  t.equal(g.check(T0), T0);
  t.equal(g.clock, T0);
  t.equal(g.check(T0 + 1.5), T0 + 1.5);
  t.equal(g.check(T0 + DAY - 1), T0 + DAY - 1, 'just under a day ahead');
  t.equal(g.clock, T0 + DAY - 1);
  t.equal(g.check(T0 + 2 * DAY - 1), T0 + 2 * DAY - 1, 'exactly the skew ahead of the clock');
  t.same([g.forward, g.backward, g.invalid, g.moves, g.clamped], [0, 0, 0, 0, 0]);
});

t.test('going back a little is fine and does not move the clock back', async (t) => {
  const g = new TimeGuard();
  g.check(T0);
  t.equal(g.check(T0 - 500), T0 - 500);
  t.equal(g.check(T0 - DAY), T0 - DAY, 'a whole day back still passes');
  t.equal(g.clock, T0, 'the clock stays the highest accepted time');
  t.equal(g.check(T0 + 10), T0 + 10);
  t.equal(g.clamped, 0);
});

t.test('one timestamp 150 years ahead is clamped to the clock and counted; the next ones are on time', async (t) => {
  const g = new TimeGuard();
  g.check(T0);
  g.check(T0 + 1000);
  t.equal(g.check(T0 + 2000 + YEARS_150), T0 + 1000, 'clamped to the clock');
  t.equal(g.clock, T0 + 1000, 'the clock did not move');
  t.equal(g.forward, 1);
  t.equal(g.check(T0 + 3000), T0 + 3000, 'the next packet is not taken for a jump back');
  t.equal(g.check(T0 + 4000), T0 + 4000);
  t.same([g.forward, g.backward, g.invalid, g.moves, g.clamped], [1, 0, 0, 0, 1]);
});

t.test('one timestamp far behind (a byte cleared: 1970) is clamped and counted', async (t) => {
  const g = new TimeGuard();
  g.check(T0);
  t.equal(g.check(T0 - 2 * DAY), T0, 'two days back');
  t.equal(g.check(12_345), T0, '1970');
  t.equal(g.check(0), T0, 'zero');
  t.equal(g.backward, 3);
  t.equal(g.check(T0 + 1), T0 + 1);
  t.same([g.forward, g.backward, g.invalid, g.moves], [0, 3, 0, 0]);
});

t.test('a real jump is followed after `confirm` agreeing outliers', async (t) => {
  const g = new TimeGuard();
  g.check(T0);
  const later = T0 + 15.5 * DAY; // a capture paused for two weeks (as in ndpi-sonos.pcapng)
  t.equal(g.check(later), T0, '1st outlier clamped');
  t.equal(g.check(later + 10), T0, '2nd');
  t.equal(g.check(later + 5), T0, '3rd (a little back inside the run still agrees)');
  t.equal(g.forward, 3);
  t.equal(g.check(later + 20), later + 20, '4th: confirmed, accepted');
  t.equal(g.clock, later + 20, 'the clock moved there');
  t.equal(g.moves, 1);
  t.equal(g.check(later + 30), later + 30, 'after the move: accepted');
  t.equal(g.check(T0), later + 30, 'the old time is now an outlier');
  t.same([g.forward, g.backward, g.moves], [3, 1, 1]);
});

t.test('a clock set back is followed too, and confirm: 1 follows at once', async (t) => {
  const g = new TimeGuard({ confirm: 2 });
  g.check(T0);
  t.equal(g.check(T0 - 400 * DAY), T0);
  t.equal(g.check(T0 - 400 * DAY + 1), T0 - 400 * DAY + 1);
  t.equal(g.clock, T0 - 400 * DAY + 1, 'the clock moved back');
  t.same([g.backward, g.moves], [1, 1]);
  const one = new TimeGuard({ confirm: 1 });
  one.check(T0);
  t.equal(one.check(T0 + YEARS_150), T0 + YEARS_150);
  t.same([one.clamped, one.moves], [0, 1]);
});

t.test('outliers that disagree, or are broken up by on-time packets, never confirm', async (t) => {
  const g = new TimeGuard();
  g.check(T0);
  // random garbage: each far from the last
  for (let i = 1; i <= 8; i++) t.equal(g.check(T0 + i * 10 * DAY), T0);
  t.equal(g.moves, 0);
  t.equal(g.forward, 8);
  // three agreeing outliers, one on-time packet, three more: the run starts again
  for (let i = 0; i < 3; i++) g.check(T0 + YEARS_150 + i);
  t.equal(g.check(T0 + 5), T0 + 5);
  for (let i = 0; i < 3; i++) t.equal(g.check(T0 + YEARS_150 + 10 + i), T0 + 5);
  t.same([g.moves, g.forward, g.clock], [0, 14, T0 + 5]);
  // an invalid timestamp neither breaks nor extends a run
  g.check(NaN);
  t.equal(g.check(T0 + YEARS_150 + 20), T0 + YEARS_150 + 20, 'the 4th agreeing outlier confirms');
  t.equal(g.moves, 1);
});

t.test('NaN, infinities and negative timestamps are clamped and counted as invalid', async (t) => {
  const g = new TimeGuard();
  t.equal(g.check(NaN), 0, 'before any clock: 0');
  t.ok(Number.isNaN(g.clock), 'an invalid value does not seed the clock');
  t.equal(g.check(T0), T0);
  for (const bad of [NaN, Infinity, -Infinity, -1, -T0]) t.equal(g.check(bad), T0, String(bad));
  t.same([g.invalid, g.forward, g.backward, g.clamped, g.moves], [6, 0, 0, 6, 0]);
  for (let i = 0; i < 10; i++) g.check(NaN);
  t.equal(g.moves, 0, 'invalid values never confirm a move');
  t.equal(g.clock, T0);
});

t.test('advanceTo: a live idle period is not a jump; it never moves the clock back', async (t) => {
  const g = new TimeGuard();
  g.advanceTo(T0);
  t.equal(g.clock, T0, 'a timer may seed the clock');
  g.check(T0 + 10);
  g.advanceTo(T0 + 3 * DAY); // three quiet days, the timer kept ticking
  t.equal(g.check(T0 + 3 * DAY + 50), T0 + 3 * DAY + 50, 'traffic resumes on time');
  g.advanceTo(T0);
  g.advanceTo(NaN);
  t.equal(g.clock, T0 + 3 * DAY + 50);
  t.equal(g.clamped, 0);
});

// ---- the pipeline ---------------------------------------------------------------------

/** A minimal IPv4/UDP frame, decoded by the pipeline's own decoder through handleFrame. */
function udpFrame(sport: number): Buffer {
  const b = Buffer.alloc(14 + 20 + 8 + 4);
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45; b.writeUInt16BE(32, 16); b[22] = 64; b[23] = 17;
  b.set([192, 168, 50, 10, 192, 168, 50, 20], 26);
  b.writeUInt16BE(sport, 34); b.writeUInt16BE(9999, 36); b.writeUInt16BE(12, 38);
  return b;
}

t.test('Pipeline: a packet 150 years ahead is clamped and counted; flows still expire on packet time', async (t) => {
  const records: { start: number; end: number; packets: number; sport: number }[] = [];
  const p = new Pipeline({ onFlow: (r) => records.push(r) });
  const f1 = udpFrame(1000), f2 = udpFrame(2000);
  const started = performance.now();
  p.handleFrame(f1, 0, f1.length, f1.length, T0, 1);
  p.handleFrame(f1, 0, f1.length, f1.length, T0 + 1000 + YEARS_150, 1);
  // ten minutes of another flow: the first (idle, UDP timeout 60 s) expires during the file
  for (let s = 2; s <= 600; s += 2) p.handleFrame(f2, 0, f2.length, f2.length, T0 + s * 1000, 1);
  const ms = performance.now() - started;
  t.equal(p.counters.timeJumps, 1, 'one timestamp clamped');
  t.equal(p.counters.lastTs, T0 + 600_000, 'lastTs is the real last time');
  t.same(records.map((r) => [r.sport, r.packets, r.start, r.end]), [[1000, 2, T0, T0]],
    'the first flow expired during the file, its clamped packet counted at the clock');
  await p.finish();
  t.same(records.map((r) => [r.sport, r.packets]), [[1000, 2], [2000, 300]]);
  t.ok(ms < 5000, `bounded: ${ms.toFixed(0)} ms`);
});

t.test('Pipeline.tick: a jump of 30 000 years writes one device_traffic interval, at once (child process, 20 s bound)', async (t) => {
  // In a child process: the unfixed loop (one step per 60 s interval) would never return,
  // and a synchronous loop cannot be interrupted inside this test process. SIGKILL: tap's
  // processinfo hooks (inherited through NODE_OPTIONS) catch SIGTERM in the child.
  const url = pathToFileURL(join(repoRoot, 'dist', 'collector', 'pipeline.js')).href;
  const script = `
    const { Pipeline } = await import(${JSON.stringify(url)});
    const p = new Pipeline({ sinks: [{ name: 'm', deviceTraffic() {}, async flush() {}, async close() {} }] });
    const t0 = performance.now();
    p.tick(${T0}); p.tick(${T0} + 1e15); p.tick(${T0} + 1e15 + 61000);
    process.stdout.write(String(performance.now() - t0));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  t.equal(r.signal, null, `finished within 20 s (${r.signal ?? 'not killed'})`);
  t.equal(r.status, 0, r.stderr);
  t.ok(Number(r.stdout) < 1000, `three ticks took ${Number(r.stdout).toFixed(1)} ms`);
});
