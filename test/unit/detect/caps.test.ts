// The detection stage's caps (README "Limits"), through the real modules: scan.hosts sources
// (scanMaxSources), scan.ports pairs, and the anomaly store (anomalyMaxOpen). At each cap one
// entry goes per new one, and what went is counted.
import t from 'tap';
import type { AnomalyInit, Reporter, Subject } from '../../../collector/detect/anomaly.js';
import { makeAnomaly } from '../../../collector/detect/anomaly.js';
import { ScanHosts } from '../../../collector/detect/scan-hosts.js';
import { ScanPorts } from '../../../collector/detect/scan-ports.js';
import { AnomalyLifecycle } from '../../../collector/detect/lifecycle.js';
import { DEFAULT_SEVERITY, defaultSettings } from '../../../collector/detect/settings.js';
import type { Anomaly, AnomalyEvent } from '../../../collector/types.js';

const T = 1_700_000_000_000;
const ip = (i: number) => `10.50.${(i >> 8) & 255}.${i & 255}`;
const subject = (src: string) => (): Subject => ({ device: src, mac: '', ip: src, segment: 'iot', profile: 'p' });

class NullReporter implements Reporter {
  reports = 0;
  report(_init: AnomalyInit): string { return `k${this.reports++}`; }
  bump(): boolean { return true; }
  addTraffic(): boolean { return true; }
}

t.test('scan.hosts: cap 1,000 sources, 10,000 fed: at most 1,000 tracked, 9,000 evicted', async (t) => {
  const d = new ScanHosts({ ...defaultSettings(), scanMaxSources: 1000 }, new NullReporter());
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    const src = ip(i);
    // one SYN each to a host, 1 ms apart: all within one window, none idle
    d.observe(src, '20.0.0.1', 'tcp', 443, T + i, true, subject(src));
    most = Math.max(most, d.tracked);
  }
  t.equal(most, 1000, 'never more than the cap');
  t.equal(d.tracked, 1000);
  t.equal(d.evicted, 9000);
});

t.test('scan.ports: cap 1,000 pairs, 10,000 fed: at most 1,000 tracked, 9,000 evicted', async (t) => {
  const d = new ScanPorts(defaultSettings(), new NullReporter(), 1000);
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    d.observe('10.50.0.9', `20.0.${(i >> 8) & 255}.${i & 255}`, 'tcp', 22, T + i, true, subject('10.50.0.9'));
    most = Math.max(most, d.tracked);
  }
  t.equal(most, 1000, 'never more than the cap');
  t.equal(d.tracked, 1000);
  t.equal(d.evicted, 9000);
});

t.test('anomaly store: cap 1,000 open, 10,000 opened: at most 1,000 open, 9,000 closed at the cap', async (t) => {
  const reasons = new Map<string, number>();
  const lc = new AnomalyLifecycle({
    idleMs: 3_600_000, updateMs: 60_000, maxOpen: 1000,
    emit: (e: AnomalyEvent, a: Anomaly) => { if (e === 'closed') reasons.set(a.closeReason, (reasons.get(a.closeReason) ?? 0) + 1); },
  });
  let most = 0;
  for (let i = 0; i < 10_000; i++) {
    lc.submit(makeAnomaly({
      kind: 'policy.violation', time: T + i, subject: subject('10.50.0.9')(), peer: ip(i), peerPort: 443, proto: 'tcp', bytes: 44, packets: 1, message: 'm',
    }, DEFAULT_SEVERITY), T + i);
    most = Math.max(most, lc.size);
  }
  t.equal(most, 1000, 'never more than the cap open');
  t.equal(lc.size, 1000);
  t.equal(lc.counters.closedAtCap, 9000);
  t.same([...reasons], [['capacity', 9000]], 'each closed with reason capacity');
});
