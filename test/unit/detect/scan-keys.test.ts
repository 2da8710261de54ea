// ScanHosts and ScanPorts keyed by addrKey() against the string-keyed ones they replaced
// (scan-reference.ts): random flows from a few sources, with caps small enough that sweeps and
// eviction run all the time, must give the same answers, reports and tracked counts.
import t from 'tap';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import { ScanPorts } from '../../../collector/detect/scan-ports.js';
import { defaultSettings } from '../../../collector/detect/settings.js';
import { Prng } from '../../fixtures/synth/prng.js';
import { ReferenceScanHosts, ReferenceScanPorts } from './scan-reference.js';

/** Files reports as lines; an aggregate closes 5 s after it opened (bump() then says so). */
class LogReporter implements Reporter {
  readonly log: string[] = [];
  private readonly opened = new Map<string, number>();
  private n = 0;
  report(init: AnomalyInit): string {
    const key = `k${this.n++}`;
    this.opened.set(key, init.lastSeen ?? init.time);
    this.log.push(`report ${key} ${init.kind} ${init.time} ${init.lastSeen} ${init.peer} ${init.count} ${init.message}`);
    return key;
  }
  bump(key: string, count: number, time: number): boolean {
    const open = (this.opened.get(key) ?? -Infinity) + 5000 > time;
    this.log.push(`bump ${key} ${count} ${time} ${open}`);
    return open;
  }
}

const subject = (ip: string): Subject => ({ device: `dev-${ip}`, mac: '', ip, segment: 'iot', profile: 'p' });

t.test('same answers as the string-keyed detectors under churn', async (tt) => {
  // seeds 1, 4: pairs go idle and are swept; 2, 5: many busy pairs, evicted at the cap; 3, 6: few
  // pairs, all port-scanned, so the cap evicts running scans too
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rnd = new Prng(seed);
    const busy = seed % 3 !== 1, all = seed % 3 === 0;
    const settings = {
      ...defaultSettings(), scanHostsThreshold: 6, scanPortsThreshold: 5, scanMaxSources: 3, scanMaxTargets: 8,
      scanHostsWindowMs: 4000, scanPortsWindowMs: 3000,
    };
    const rA = new LogReporter(), rB = new LogReporter();
    const hostsA = new ScanHosts(settings, rA), hostsB = new ReferenceScanHosts(settings, rB);
    const portsA = new ScanPorts(settings, rA), portsB = new ReferenceScanPorts(settings, rB);
    const srcs = ['192.168.50.10', '192.168.50.11', '192.168.50.12', '192.168.50.13', 'fd00:50::10', '010.0.0.1'];
    const dsts = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '203.0.113.5', '2001:db8::5', '010.0.0.1', '10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14'];
    if (busy && !all) for (let i = 0; i < 30; i++) dsts.push(`10.1.0.${i}`);
    if (all) dsts.length = 9;
    let time = 1_700_000_000_000, bad = 0, scans = 0, tracked = 0, evictions = 0;
    for (let i = 0; i < 20_000 && bad < 5; i++) {
      time += rnd.int(0, busy ? 3 : 150);
      const src = rnd.pick(srcs), dst = rnd.pick(dsts), dport = rnd.int(1, 12);
      const subj = () => subject(src);
      const a = [hostsA.observe(src, dst, 'tcp', dport, time, subj), portsA.observe(src, dst, 'tcp', dport, time, subj), hostsA.raisedNow, portsA.raisedNow];
      const b = [hostsB.observe(src, dst, 'tcp', dport, time, subj), portsB.observe(src, dst, 'tcp', dport, time, subj), hostsB.raisedNow, portsB.raisedNow];
      const q = rnd.pick(srcs), qd = rnd.pick(dsts);
      a.push(hostsA.scanningSince(q, time), portsA.scanningSince(q, qd, time), hostsA.tracked, portsA.tracked);
      b.push(hostsB.scanningSince(q, time), portsB.scanningSince(q, qd, time), hostsB.tracked, portsB.tracked);
      if (a.join() !== b.join()) { tt.same(a, b, `seed ${seed} flow ${i}`); bad++; }
      if (a[0] !== -1 || a[1] !== -1) scans++;
      tracked = Math.max(tracked, Number(a[7]));
      if (Number(a[7]) === 48) evictions++;
      if (rnd.float() < 0.02) { hostsA.tick(time); hostsB.tick(time); portsA.tick(time); portsB.tick(time); }
    }
    tt.equal(bad, 0, `seed ${seed}: every answer agrees`);
    tt.same(rA.log, rB.log, `seed ${seed}: the same reports and bumps`);
    tt.ok(scans > 1000 && rA.log.length > 50, `seed ${seed}: ${scans} flows in scans, ${rA.log.length} reports and bumps`);
    tt.ok(!busy || evictions > 100, `seed ${seed}: ${evictions} flows found the pairs at the cap`);
    tt.equal(tracked, 48, 'pairs reach the cap');
  }
});
