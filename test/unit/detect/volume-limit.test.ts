import t from 'tap';
import { DOORBELL_IP, PLUG_IP, PLUG_MAC, T0, harness, recordOf, start } from './helpers.js';

const MB = 1_000_000;
const MIN = 60_000;

/** An allowed flow of the doorbell moving `mb` MB (both directions), ending at `end`. */
function allowedFlow(h: ReturnType<typeof harness>, end: number, mb: number, over: { src?: string; srcMac?: string } = {}) {
  const s = start({ dst: '52.94.1.1', dport: 443, time: end - 1000, ...over });
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { end, bytes: mb * MB * 0.9, bytesRev: mb * MB * 0.1 }));
}

t.test('positive: over 500 MB in a rolling hour, one anomaly per device per hour', async (t) => {
  const h = harness();
  for (let i = 0; i < 12; i++) allowedFlow(h, T0 + i * 5 * MIN, 50); // 600 MB in 55 min
  for (let i = 0; i < 6; i++) allowedFlow(h, T0 + 56 * MIN + i * MIN, 50); // still within the hour
  h.engine.flush();
  t.equal(h.out.length, 1);
  const a = h.out[0];
  t.match(a, { kind: 'volume.limit', severity: 'medium', device: 'doorbell', ip: DOORBELL_IP, profile: 'camera', rule: 'profiles.camera.limits.bytes_per_hour' });
  t.equal(a.bytes, 550 * MB, 'the rolling sum when the limit was crossed');
  t.equal(a.time, new Date(T0 + 50 * MIN).toISOString());
  t.match(a.message, /moved 550 MB in the last hour, over the 500 MB bytes_per_hour of profile camera/);
});

t.test('near miss: 400 MB in an hour', async (t) => {
  const h = harness();
  for (let i = 0; i < 8; i++) allowedFlow(h, T0 + i * 5 * MIN, 50);
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: 600 MB spread over three hours', async (t) => {
  const h = harness();
  for (let i = 0; i < 12; i++) allowedFlow(h, T0 + i * 15 * MIN, 50);
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: interim records carry totals, not deltas (400 MB counted once)', async (t) => {
  const h = harness();
  const s = start({ dst: '52.94.1.1', dport: 443 });
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { end: T0 + 10 * MIN, bytes: 300 * MB, bytesRev: 0, final: false }));
  h.engine.flowRecord(recordOf(s, { end: T0 + 20 * MIN, bytes: 350 * MB, bytesRev: 0, final: false }));
  h.engine.flowRecord(recordOf(s, { end: T0 + 30 * MIN, bytes: 400 * MB, bytesRev: 0, final: true }));
  h.engine.flush();
  t.same(h.out, []);
});

t.test('interim records as deltas (counters restart, new start): 600 MB in the hour is counted', async (t) => {
  const h = harness();
  const s = start({ dst: '52.94.1.1', dport: 443 });
  h.engine.flowStart(s);
  h.engine.flowRecord(recordOf(s, { start: T0, end: T0 + 10 * MIN, bytes: 300 * MB, bytesRev: 0, final: false }));
  h.engine.flowRecord(recordOf(s, { start: T0 + 10 * MIN, end: T0 + 20 * MIN, bytes: 300 * MB, bytesRev: 0, final: true }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.bytes]), [['volume.limit', 600 * MB]]);
});

t.test('bytes_per_day: the plug over 1 GB in a rolling day', async (t) => {
  const h = harness();
  for (let i = 0; i < 24; i++) {
    const s = start({ src: PLUG_IP, srcMac: PLUG_MAC, proto: 'udp', dst: '192.168.50.1', dport: 53, tcpFlags: 0, time: T0 + i * 3_600_000 });
    h.engine.flowStart(s);
    h.engine.flowRecord(recordOf(s, { end: s.time + 1000, bytes: 50 * MB, bytesRev: 0 }));
  }
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.match(h.out[0], { kind: 'volume.limit', device: 'plug', rule: 'profiles.smart-plug.limits.bytes_per_day', bytes: 1050 * MB });
});

t.test('near miss: a profile without limits, and a device outside the watched segment', async (t) => {
  const h = harness();
  for (let i = 0; i < 10; i++) {
    allowedFlow(h, T0 + i * MIN, 100, { src: '192.168.50.99', srcMac: '02:11:22:33:44:55' }); // quarantine: no limits
    allowedFlow(h, T0 + i * MIN, 100, { src: '192.168.1.5', srcMac: '02:00:00:00:01:05' });
  }
  h.engine.flush();
  t.notOk(h.out.some((a) => a.kind === 'volume.limit'));
});
