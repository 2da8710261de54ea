// The sink against a real influxd: database and retention policy created,
// DESIGN.md's measurements, tags and fields written and read back.
import t from 'tap';
import { startInfluxd, influxdAvailable, records, rows, type Influxd } from '../../../helpers/influxd.js';
import { InfluxSink } from '../../../../collector/sinks/influx/influx-sink.js';
import { anomaly, captureLog, tmpDir } from './util.js';

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  let influxd: Influxd;
  const spool = tmpDir('segwatch-influx-schema-');
  t.before(async () => { influxd = await startInfluxd(); });
  t.teardown(async () => { await influxd?.destroy(); spool.remove(); });

  t.test('measurements, tags and fields as DESIGN.md says', async (t) => {
    const { log } = captureLog();
    const sink = await InfluxSink.open({
      url: influxd.url + '/segwatch', spoolDir: spool.dir + '/a',
      retentionPolicy: { name: 'segwatch_long', duration: '1000w' },
    }, { log });
    const db = { db: 'segwatch' };
    t.same(rows(await influxd.query('SHOW DATABASES')).flat().includes('segwatch'), true, 'database created on start');
    const rps = records(await influxd.query('SHOW RETENTION POLICIES ON segwatch'));
    const rp = rps.find((r) => r.name === 'segwatch_long');
    t.ok(rp, 'retention policy created');
    t.equal(rp?.duration, '168000h0m0s');
    t.equal(rp?.default, true);

    const a = anomaly(1, { peerName: 'evil.example.com', message: 'cam0 opened 443/tcp to "evil", a host its profile does not allow', segment: '' });
    sink.anomaly(a);
    sink.deviceTraffic({ time: Date.UTC(2024, 0, 1, 0, 1), device: 'cam0', segment: 'iot', bytesOut: 1000, bytesIn: 2000, packetsOut: 10, packetsIn: 20, flows: 3, peers: 2 });
    sink.device({ id: 'aa:bb:cc:00:00:01', name: 'cam0', mac: 'aa:bb:cc:00:00:01', ips: ['192.168.50.10', 'fd00:50::10'], vendor: 'Ring LLC', hostname: 'ring-cam', profile: 'camera', segment: 'iot', firstSeen: 1, lastSeen: Date.UTC(2024, 0, 1, 0, 2), known: true });
    sink.collector({ time: Date.UTC(2024, 0, 1, 0, 3), host: 'pi4', source: 'eth0', packets: 5, bytes: 6, drops: 0, decodeErrors: 1, flowsActive: 7, flowsEvicted: 8, queue: 9, spoolBytes: 0 });
    await sink.flush();
    t.same(sink.stats().written, 4);

    t.same(rows(await influxd.query('SHOW MEASUREMENTS', db)).flat().sort(), ['anomaly', 'collector', 'device', 'device_traffic']);
    const tagKeys = async (m: string) => rows(await influxd.query(`SHOW TAG KEYS FROM "${m}"`, db)).flat().sort();
    const fieldKeys = async (m: string) => Object.fromEntries(rows(await influxd.query(`SHOW FIELD KEYS FROM "${m}"`, db)) as [string, string][]);
    t.same(await tagKeys('anomaly'), ['device', 'kind', 'profile', 'severity'], 'anomaly tags; empty segment left out');
    t.same(await fieldKeys('anomaly'), {
      bytes: 'integer', close_reason: 'string', count: 'integer', id: 'string', last_seen: 'integer', message: 'string', packets: 'integer',
      peer: 'string', peer_name: 'string', peer_port: 'integer', proto: 'string', rule: 'string', state: 'string', suppressed: 'boolean',
    });
    t.same(await tagKeys('device_traffic'), ['device', 'segment']);
    t.same(await fieldKeys('device_traffic'), { bytes_in: 'integer', bytes_out: 'integer', flows: 'integer', packets_in: 'integer', packets_out: 'integer', peers: 'integer' });
    t.same(await tagKeys('device'), ['device', 'mac', 'vendor']);
    t.same(await fieldKeys('device'), { hostname: 'string', ip: 'string', known: 'boolean', profile: 'string' });
    t.same(await tagKeys('collector'), ['host', 'source']);
    t.same(await fieldKeys('collector'), { bytes: 'integer', decode_errors: 'integer', drops: 'integer', flows_active: 'integer', flows_evicted: 'integer', if_drops: 'integer', kernel_drops: 'integer', packets: 'integer', queue: 'integer', ring_drops: 'integer', spool_bytes: 'integer' });

    const [an] = records(await influxd.query('SELECT * FROM anomaly', db));
    t.match(an, {
      time: /^2024-01-01T00:00:00\.000\d{6}Z$/, device: 'cam1', kind: 'policy.violation', severity: 'high', profile: 'camera',
      peer: a.peer, peer_name: 'evil.example.com', peer_port: 443, proto: 'tcp', bytes: 101, packets: 2, count: 1,
      message: a.message, rule: 'r1',
    });
    const [dt] = records(await influxd.query('SELECT * FROM device_traffic', db));
    t.match(dt, { time: '2024-01-01T00:01:00Z', device: 'cam0', segment: 'iot', bytes_out: 1000, bytes_in: 2000, packets_out: 10, packets_in: 20, flows: 3, peers: 2 });
    const [dv] = records(await influxd.query('SELECT * FROM device', db));
    t.match(dv, { time: '2024-01-01T00:02:00Z', device: 'cam0', mac: 'aa:bb:cc:00:00:01', vendor: 'Ring LLC', ip: '192.168.50.10,fd00:50::10', hostname: 'ring-cam', profile: 'camera', known: true });
    const [co] = records(await influxd.query('SELECT * FROM collector', db));
    t.match(co, { time: '2024-01-01T00:03:00Z', host: 'pi4', source: 'eth0', packets: 5, bytes: 6, drops: 0, decode_errors: 1, flows_active: 7, flows_evicted: 8, queue: 9, spool_bytes: 0 });
    await sink.close();
  });

  t.test('anomalies sharing tags and millisecond stay distinct; a re-emitted one overwrites itself', async (t) => {
    const sink = await InfluxSink.open({ url: influxd.url + '/distinct', spoolDir: spool.dir + '/b', batchSize: 100 });
    const same = { time: '2024-02-01T00:00:00.000Z', device: 'plug', segment: 'iot' };
    for (let i = 0; i < 500; i++) sink.anomaly(anomaly(i, same));
    await sink.flush();
    const count = async () => rows(await influxd.query('SELECT count(rule) FROM anomaly', { db: 'distinct' }))[0]?.[1];
    t.equal(await count(), 500, '500 distinct anomalies in one ms and one series: 500 points');
    sink.anomaly(anomaly(7, { ...same, count: 42 }));
    await sink.flush();
    t.equal(await count(), 500, 'the same anomaly again (higher count) does not add a point');
    const r = records(await influxd.query(`SELECT "count" FROM anomaly WHERE rule = 'r7'`, { db: 'distinct' }));
    t.same(r.map((x) => x.count), [42], 'it overwrote the earlier point with the new count');
    await sink.close();
  });

  t.test('tricky strings survive the trip', async (t) => {
    const sink = await InfluxSink.open({ url: influxd.url + '/tricky', spoolDir: spool.dir + '/c' });
    const names = ['door bell', 'a,b', 'k=v', 'DOMAIN\\host', 'trail\\', 'küche 📷', 'quote"d', 'new\nline'];
    names.forEach((n, i) => sink.anomaly(anomaly(i, { device: n, message: `msg ${n} "x" \\ y`, peerName: n })));
    await sink.flush();
    t.equal(sink.stats().failedPoints, 0);
    const got = records(await influxd.query('SELECT device, message, peer_name, rule FROM anomaly', { db: 'tricky' }));
    t.equal(got.length, names.length, 'every point written, none split or merged');
    const byRule = new Map(got.map((r) => [r.rule, r]));
    const expectTag = (n: string) => n === 'trail\\' ? 'trail' : n.replace('\n', '\\n');
    names.forEach((n, i) => {
      const r = byRule.get(`r${i}`)!;
      t.equal(r.device, expectTag(n), `tag ${JSON.stringify(n)}`);
      t.equal(r.message, `msg ${n.replace('\n', '\\n')} "x" \\ y`, `string field ${JSON.stringify(n)}`);
    });
    await sink.close();
  });
}
