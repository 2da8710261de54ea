import t from 'tap';
import type { Anomaly } from '../../../collector/types.js';
import { ANOMALY_KINDS } from '../../../collector/types.js';
import { ANOMALY_FIELDS, DOORBELL_IP, DOORBELL_MAC, T0, harness, recordOf, start } from './helpers.js';

/** One run that raises every kind of the taxonomy. */
function everything(settings = {}): Anomaly[] {
  const h = harness({ settings });
  const e = h.engine;
  e.flowStart(start({ dport: 8080 }));                                             // policy.violation
  e.flowStart(start({ dst: '192.168.1.20', dport: 445 }));                         // segment.crossing
  e.device({ id: '02:de:ad:be:ef:01', name: '', mac: '02:de:ad:be:ef:01', ips: ['192.168.50.77'], vendor: '', hostname: '',
    profile: 'quarantine', segment: 'iot', firstSeen: T0, lastSeen: T0, known: false }, 'new'); // device.new
  e.conflict({ time: T0, ip: DOORBELL_IP, oldMac: DOORBELL_MAC, newMac: '02:66:66:66:66:66', source: 'arp' }); // device.spoof
  for (let i = 1; i <= 70; i++) e.flowStart(start({ src: '192.168.50.12', srcMac: '02:00:00:00:50:12', dst: `10.0.0.${i}`, dport: 80, time: T0 + i })); // scan.hosts
  for (let i = 1; i <= 40; i++) e.flowStart(start({ src: '192.168.50.13', srcMac: '02:00:00:00:50:13', dst: '10.0.1.1', dport: 1000 + i, time: T0 + i })); // scan.ports
  e.flowStart(start({ dst: '203.0.113.9', dport: 1883 }));                         // protocol.plaintext (+ violation)
  e.flowStart(start({ proto: 'udp', dst: '8.8.4.4', dport: 53, tcpFlags: 0 }));    // dns.bypass
  e.flowStart(start({ src: '198.51.100.44', srcMac: '02:00:00:00:00:fe', sport: 50000, dst: DOORBELL_IP, dstMac: DOORBELL_MAC, dport: 554 })); // device.exposed
  const s = start({ dst: '52.94.1.1', dport: 443 });
  e.flowStart(s);
  e.flowRecord(recordOf(s, { bytes: 600e6, bytesRev: 0 }));                        // volume.limit
  const h80 = start({ dst: '203.0.113.10', dport: 80 });
  const req = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from('root:xc3511').toString('base64')}\r\n\r\n`);
  e.payload({ flowId: h80.id, time: T0, dir: 0, sport: h80.sport, dport: 80, seq: 0, buf: req, off: 0, len: req.length,
    what: 'http-basic-auth', start: () => h80 });                                  // credentials.default
  const health = { host: 'segwatch-1', source: 'live:eth0', packets: 5, records: 0, drops: 0, spoolBytes: 0, alertsFailing: [] };
  e.health({ ...health, time: T0 });
  e.health({ ...health, time: T0 + 600_000 });                                      // collector.degraded (silence)
  e.flush();
  return h.out;
}

t.test('every kind of the taxonomy, every field of DESIGN.md present and typed', async (t) => {
  const out = everything();
  t.same([...new Set(out.map((a) => a.kind))].sort(), [...ANOMALY_KINDS].sort());
  for (const a of out) {
    t.same(Object.keys(a).sort(), Object.keys(ANOMALY_FIELDS).sort(), `${a.kind}: exactly the DESIGN.md fields`);
    for (const [k, type] of Object.entries(ANOMALY_FIELDS)) t.type((a as unknown as Record<string, unknown>)[k], type, `${a.kind}.${k}`);
    t.ok(!Number.isNaN(Date.parse(a.time)) && a.time === a.firstSeen, `${a.kind}: time is ISO 8601 and the first packet`);
    t.ok(a.lastSeen >= a.firstSeen, `${a.kind}: lastSeen not before firstSeen`);
    t.ok(a.count >= 1);
    t.ok(a.device !== '' && a.message.length > 20 && a.rule !== '', `${a.kind}: device, rule and message set`);
    t.match(a.message, /: /, `${a.kind}: message says what to do`);
  }
});

t.test('severities follow DESIGN.md and can be overridden', async (t) => {
  const sev = Object.fromEntries(everything().filter((a) => a.kind !== 'device.spoof').map((a) => [a.kind, a.severity]));
  t.same(sev, {
    'policy.violation': 'high', 'segment.crossing': 'critical', 'device.new': 'medium', 'scan.hosts': 'high', 'scan.ports': 'high',
    'protocol.plaintext': 'high', 'dns.bypass': 'high', 'volume.limit': 'medium', 'credentials.default': 'critical',
    'collector.degraded': 'critical', 'device.exposed': 'high',
  });
  const over = everything({ severity: { 'device.new': 'low', 'dns.bypass': 'critical' } });
  t.equal(over.find((a) => a.kind === 'device.new')!.severity, 'low');
  t.equal(over.find((a) => a.kind === 'dns.bypass')!.severity, 'critical');
  t.equal(over.find((a) => a.kind === 'policy.violation')!.severity, 'high', 'others keep their default');
});
