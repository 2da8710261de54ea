// A detector added by a test, registered beside the bundled ones without touching the
// engine: it gets the events it asks for, and what it reports goes through the lifecycle to
// every sink the collector is assembled with (JSON lines, the API's table, a real InfluxDB).

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../../collector/assemble.js';
import { registerDetector, unregisterDetector, DETECTORS } from '../../../collector/detect/registry.js';
import type { DetectorDef } from '../../../collector/detect/detector.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import type { Anomaly, AnomalyEvent } from '../../../collector/types.js';
import { sendUdp, type Host } from '../../fixtures/synth/conversation.js';
import { PcapWriter } from '../../fixtures/synth/pcap-writer.js';
import { startInfluxd, influxdAvailable, records } from '../../helpers/influxd.js';

const T0 = Date.UTC(2026, 10, 2, 8, 0, 0);
const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const NTP: Host = { mac: '24:5a:4c:50:00:01', ip: '192.168.50.1' };

const policy = loadPolicyText(`version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: camera, mac: "${CAM.mac}", profile: camera }
  # the router answers on the link: it is a device here (traffic binds responders too), listed, not new
  - { name: router, mac: "${NTP.mac}", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { service: ntp }
`, 'registry-test.yaml').policy!;

/** Reports NTP answers whose server port is 123 but that come back later than 1 s: made up, for the test. */
const seen: Record<string, number> = {};
const slowNtp: DetectorDef = {
  name: 'test-slow-ntp',
  kinds: { 'test.slow-ntp': 'low' },
  create(ctx) {
    const count = (e: string) => { seen[e] = (seen[e] ?? 0) + 1; };
    return {
      flowStart: (j) => { count('flowStart'); if (j.f.dport === 123 && !j.srcWatched) count('flowStart-not-watched'); },
      flowRecord: (r) => {
        count('flowRecord');
        if (r.dport !== 123 || r.end - r.start < 1000) return;
        const p = ctx.policy();
        ctx.reporter.report({
          kind: 'test.slow-ntp', time: r.start, lastSeen: r.end, subject: ctx.subject(p, r.src, r.srcMac, true),
          peer: r.dst, peerPort: 123, proto: r.proto, bytes: r.bytes + r.bytesRev, packets: r.packets + r.packetsRev,
          rule: 'test', message: `NTP from ${r.src} took ${r.end - r.start} ms`,
        });
      },
      device: () => count('device'),
      tick: () => count('tick'),
      flush: () => count('flush'),
    };
  },
};

t.test('a registered detector: events in, anomalies out to every sink', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cap = join(dir, 'ntp.pcap');
  const w = new PcapWriter(cap);
  // three NTP exchanges: two answered at once, one after 1.5 s
  for (const [i, delay] of [[0, 20], [1, 1500], [2, 30]] as const) {
    const at = T0 + i * 120_000;
    sendUdp({ sink: w }, at * 1000, CAM, NTP, 40000 + i, 123, Buffer.alloc(48));
    sendUdp({ sink: w }, (at + delay) * 1000, NTP, CAM, 123, 40000 + i, Buffer.alloc(48));
  }
  w.close();

  registerDetector(slowNtp);
  t.teardown(() => unregisterDetector(slowNtp.name));
  t.throws(() => registerDetector(slowNtp), /already registered/, 'a name is registered once');
  t.equal(DETECTORS[DETECTORS.length - 1], slowNtp, 'after the bundled ones');

  const influxd = influxdAvailable() ? await startInfluxd() : null;
  t.teardown(async () => { await influxd?.destroy(); });
  if (!influxd) t.fail('influxd (Debian package influxdb) is required for this test');
  const events: Array<[AnomalyEvent, Anomaly]> = [];
  const out = join(dir, 'out.jsonl');
  const c = await assemble({
    mode: 'run', policy: () => policy, out, api: true,
    influx: influxd ? { url: `${influxd.url}/reg`, spoolDir: join(dir, 'spool') } : undefined,
    sinks: [{ name: 'recorder', anomaly: (a, e) => { events.push([e, a]); }, flush: async () => {}, close: async () => {} }],
  });
  await openCapture(cap).run(c.pipeline.handleFrame);
  await c.pipeline.finish();
  const ring = c.ring!.last(10);
  await c.pipeline.close();

  t.ok(seen.flowStart >= 3 && seen.flowRecord >= 3 && seen.device >= 1 && seen.tick >= 1 && seen.flush === 1, `events received: ${JSON.stringify(seen)}`);
  const mine = events.filter(([, a]) => a.kind === 'test.slow-ntp');
  t.same(mine.map(([e]) => e), ['opened', 'closed'], 'opened and closed through the lifecycle');
  const a = mine[0][1];
  t.match(a, { device: 'camera', severity: 'low', peer: NTP.ip, peerPort: 123, proto: 'udp', count: 1, rule: 'test', state: 'open' });
  t.equal(a.firstSeen, new Date(T0 + 120_000).toISOString());
  t.same(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.kind === 'test.slow-ntp').map((x) => [x.id, x.state]),
    [[a.id, 'open'], [a.id, 'closed']], 'the JSON lines file');
  t.same(ring.filter((x) => x.kind === 'test.slow-ntp').map((x) => [x.id, x.state, x.severity]), [[a.id, 'closed', 'low']], "the API's table");
  if (influxd) {
    const rows = records(await influxd.query(`SELECT "id", "state", "count", "kind"::tag FROM "anomaly" WHERE "kind" = 'test.slow-ntp'`, { db: 'reg' }));
    t.same(rows.map((r) => [r.id, r.state, r.count]), [[a.id, 'closed', 1]], 'InfluxDB');
  }
  t.equal(events.filter(([, x]) => x.kind !== 'test.slow-ntp').length, 0, 'the bundled detectors found nothing here');
});

t.test('after unregistering, the engine runs the bundled detectors only', async (t) => {
  unregisterDetector(slowNtp.name);
  t.notOk(DETECTORS.some((d) => d.name === slowNtp.name));
  t.same(DETECTORS.map((d) => d.name), ['scan-hosts', 'scan-ports', 'protocol-plaintext', 'allowlist', 'device-exposed', 'volume-limit', 'device-new', 'device-spoof', 'credentials-default', 'collector-degraded']);
});
