// ScanHosts' flow marks (scan-hosts.ts): a failed record of a flow whose host went into its
// scanning source's `seen` when the flow started skips the look-up count() would make. With
// marks (flow ids given) and without (-1), random traces must give the same reports and the
// same bumps, through every way `seen` is emptied: the slow rule starting a scan, a scan
// ending after a quiet window, the fast window moving on, sources evicted at the cap and
// recycled, hosts beyond scanMaxTargets, ids never observed, ids observed again, records of
// flows long gone.

import t from 'tap';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import { defaultSettings } from '../../../collector/detect/settings.js';

const T = 1_700_000_000_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % n;
  };
}

/** Logs every call; an open aggregate takes 40 bumps, then it closed (bump false, report again). */
class LogReporter implements Reporter {
  readonly log: string[] = [];
  private readonly bumped = new Map<string, number>();
  private n = 0;
  report(init: AnomalyInit): string {
    const key = `k${this.n++}`;
    this.log.push(`report ${key} ${init.time} ${init.lastSeen} ${init.count} ${init.rule} ${init.subject.ip}`);
    return key;
  }
  bump(key: string, count: number, time: number): boolean {
    const b = (this.bumped.get(key) ?? 0) + 1;
    this.bumped.set(key, b);
    this.log.push(`bump ${key} ${count} ${time}`);
    return b % 40 !== 0;
  }
  addTraffic(): boolean {
    return true;
  }
}

interface Flow { id: number; src: number; dst: number; start: number; end: number }

interface Case { name: string; s: ReturnType<typeof defaultSettings>; sources: number; markWindow?: number }

function run(seed: number, withIds: boolean, c: Case): string[] {
  const r = new LogReporter();
  const d = new ScanHosts(c.s, r, c.markWindow);
  const next = rng(seed);
  const pending: Flow[] = [];
  let time = T, observed = 0;
  const sub = (ip: number) => (): Subject => ({ device: `d${ip}`, mac: '', ip: String(ip), segment: 'iot', profile: 'p' });
  for (let id = 1; id <= 20_000; id++) {
    time += next(4) === 0 ? next(1000) : next(20);
    const src = 0x0a000000 + next(c.sources), dst = 0x14000000 + next(next(2) === 0 ? 60 : 5000);
    const f: Flow = { id, src, dst, start: time, end: time + next(3) * 500 };
    // some flows are never observed (not judged at their start), yet their record comes
    if (next(10) !== 0) {
      observed = id;
      d.observe(String(src), String(dst), 'tcp', 23, time, next(8) !== 0, sub(src), () => next(20) === 0, src, dst, withIds ? id : -1);
    }
    if (next(4) !== 0) pending.push(f);
    // an id observed before comes again (a flow table started afresh): it takes back its mark, sets none
    if (next(40) === 0 && observed > 60) {
      const other = 0x0a000000 + next(c.sources), host = 0x14000000 + next(60), reused = observed - next(50);
      d.observe(String(other), String(host), 'tcp', 23, time, true, sub(other), () => false, other, host, withIds ? reused : -1);
    }
    // records come later, most in the order their flows started, some out of it, some very late
    while (pending.length > 0 && (pending.length > 300 || next(3) === 0)) {
      const i = next(6) === 0 ? next(pending.length) : 0;
      const g = pending.splice(i, 1)[0];
      d.failed(String(g.src), String(g.dst), 'tcp', 23, g.start, Math.max(g.end, g.start), sub(g.src), g.src, g.dst, withIds ? g.id : -1);
    }
    if (next(50) === 0) d.tick(time);
  }
  for (const g of pending) d.failed(String(g.src), String(g.dst), 'tcp', 23, g.start, g.end, sub(g.src), g.src, g.dst, withIds ? g.id : -1);
  return r.log;
}

t.test('marks change no report and no bump', async (t) => {
  const base = { ...defaultSettings(), scanHostsFastThreshold: 6, scanHostsFastWindowMs: 2000, scanHostsThreshold: 25 };
  const cases: Case[] = [
    { name: 'defaults but short windows', s: { ...base, scanHostsWindowMs: 20_000 }, sources: 8 },
    { name: 'sources evicted', s: { ...base, scanHostsWindowMs: 8000, scanMaxSources: 2, scanMaxTargets: 10 }, sources: 3 },
    { name: 'hosts beyond the cap', s: { ...base, scanHostsWindowMs: 8000, scanMaxTargets: 10 }, sources: 2 },
    { name: 'long window, a mark window that wraps', s: { ...base, scanHostsWindowMs: 300_000, scanMaxTargets: 200 }, sources: 4, markWindow: 256 },
  ];
  for (const c of cases) {
    for (const seed of [1, 2, 3]) {
      const plain = run(seed, false, c), marked = run(seed, true, c);
      t.ok(plain.filter((l) => l.startsWith('report')).length > 3, `${c.name}, seed ${seed}: scans were found`);
      t.equal(marked.length, plain.length, `${c.name}, seed ${seed}: as many calls`);
      const at = marked.findIndex((l, i) => l !== plain[i]);
      t.equal(at, -1, `${c.name}, seed ${seed}: the same calls${at >= 0 ? ` (first difference at ${at}: ${marked[at]} / ${plain[at]})` : ''}`);
    }
  }
});
