import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Spool } from '../../../../collector/sinks/influx/spool.js';
import type { Log } from '../../../../collector/types.js';

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segwatch-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function captureLog() {
  const lines: Array<{ level: string; msg: string; obj: unknown }> = [];
  const mk = (level: string) => (obj: unknown, msg?: string) => { lines.push({ level, msg: msg ?? '', obj }); };
  const log: Log = { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') };
  return { log, lines };
}

const segs = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

function drain(s: Spool, limit = 100000): string[] {
  const out: string[] = [];
  for (let i = 0; i < limit; i++) {
    const r = s.peek();
    if (!r) break;
    out.push(r.body);
    s.ack();
  }
  return out;
}

t.test('FIFO, counts, and files removed once acknowledged', async (t) => {
  const dir = tmpDir(t);
  const s = Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 100 });
  const bodies = Array.from({ length: 20 }, (_, i) => `m,i=${i} v=${i}i ${i}\nm,i=${i} w=1i ${i}`);
  for (const b of bodies) t.ok(s.append(b, 2));
  t.equal(s.batches, 20);
  t.equal(s.points, 40);
  t.ok(segs(dir).length > 1, 'rolled over into several segments');
  t.equal(s.peek()!.body, bodies[0], 'peek is stable');
  t.equal(s.peek()!.body, bodies[0]);
  const got = drain(s);
  t.same(got, bodies, 'same order, same bytes');
  t.equal(s.batches, 0);
  t.equal(s.bytes, 0);
  t.same(segs(dir), [], 'all segments deleted');
  t.ok(s.append('m v=1', 1), 'usable after emptying');
  t.equal(s.peek()!.body, 'm v=1');
  s.close();
});

t.test('survives a restart: resumes after the last acknowledged batch', async (t) => {
  const dir = tmpDir(t);
  let s = Spool.open({ dir, segmentBytes: 200 });
  for (let i = 0; i < 30; i++) s.append(`b${i}`, 1);
  for (let i = 0; i < 12; i++) { t.equal(s.peek()!.body, `b${i}`); s.ack(); }
  s.peek(); // peeked but not acknowledged: must come again
  s.close();
  s = Spool.open({ dir, segmentBytes: 200 });
  t.equal(s.batches, 18, 'unacknowledged batches counted from disk');
  t.equal(s.points, 18);
  s.append('new', 1);
  const got = drain(s);
  t.same(got, [...Array.from({ length: 18 }, (_, i) => `b${i + 12}`), 'new'], 'old backlog first, then new');
  s.close();
  s = Spool.open({ dir });
  t.equal(s.peek(), null, 'nothing replayed twice after a full drain');
  s.close();
});

t.test('a torn write at the tail is detected and skipped', async (t) => {
  const dir = tmpDir(t);
  const { log, lines } = captureLog();
  let s = Spool.open({ dir, log });
  s.append('first batch', 1);
  s.append('second batch', 1);
  s.append('third batch that is torn', 1);
  s.close();
  const f = path.join(dir, segs(dir)[0]);
  fs.truncateSync(f, fs.statSync(f).size - 5);
  s = Spool.open({ dir, log });
  t.equal(s.batches, 2, 'the torn record is not counted');
  s.append('after restart', 1);
  t.same(drain(s), ['first batch', 'second batch', 'after restart']);
  t.equal(s.stats().corrupt, 1);
  t.ok(lines.some((l) => l.level === 'warn' && /torn or corrupt/.test(l.msg)));
  s.close();
});

t.test('a flipped byte fails the CRC', async (t) => {
  const dir = tmpDir(t);
  let s = Spool.open({ dir, segmentBytes: 40 });
  s.append('aaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1); // its own segment
  s.append('bbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1);
  s.append('cccccccccccccccccccccccccccc', 1);
  s.close();
  const f = path.join(dir, segs(dir)[1]);
  const buf = fs.readFileSync(f);
  buf[20] ^= 0x01;
  fs.writeFileSync(f, buf);
  s = Spool.open({ dir });
  t.same(drain(s), ['aaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cccccccccccccccccccccccccccc'], 'corrupt record skipped, others kept');
  t.equal(s.stats().corrupt, 1);
  s.close();
});

t.test('bounded: refuses new batches when full, counts, logs once, recovers', async (t) => {
  const dir = tmpDir(t);
  const { log, lines } = captureLog();
  const s = Spool.open({ dir, maxBytes: 1000, segmentBytes: 300, log });
  const body = 'x'.repeat(84); // 100 bytes with the header
  let accepted = 0;
  for (let i = 0; i < 15; i++) if (s.append(body, 3)) accepted++;
  t.equal(accepted, 10);
  const st = s.stats();
  t.equal(st.refusedBatches, 5);
  t.equal(st.refusedPoints, 15);
  t.ok(st.full);
  t.ok(st.bytes <= 1000);
  t.equal(lines.filter((l) => l.level === 'error' && /spool full/.test(l.msg)).length, 1, 'one log line per fill');
  for (let i = 0; i < 4; i++) { s.peek(); s.ack(); }
  t.notOk(s.stats().full, 'room again once acknowledged segments are removed');
  t.ok(lines.some((l) => /room again/.test(l.msg)));
  t.ok(s.append(body, 3));
  s.close();
});

t.test('crash between cursor write and segment unlink: stale segment not replayed', async (t) => {
  const dir = tmpDir(t);
  let s = Spool.open({ dir, segmentBytes: 30 });
  s.append('one-one-one-one-one', 1);
  s.append('two-two-two-two-two', 1);
  s.close();
  const first = segs(dir)[0];
  const copy = fs.readFileSync(path.join(dir, first));
  s = Spool.open({ dir, segmentBytes: 30 });
  s.peek(); s.ack(); // removes the first segment
  s.close();
  fs.writeFileSync(path.join(dir, first), copy); // as if the unlink never happened
  s = Spool.open({ dir });
  t.same(drain(s), ['two-two-two-two-two']);
  s.close();
});
