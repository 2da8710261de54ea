// `segwatch replay --influx` on the demo against a real influxd: the anomaly measurement
// mirrors the JSON lines printed (tags, fields, count), device_traffic/device/collector
// carry the demo's devices and packet total, and a second replay adds no anomaly.

import t from 'tap';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot, segwatch } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, rows, type Influxd, type QueryResult } from '../helpers/influxd.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const DB = 'segwatch';

type A = Record<string, string | number>;

/** One anomaly as InfluxDB should store it: tags without empty values, then fields. */
function expectedKey(a: A): string {
  const tags: Record<string, string> = {};
  for (const k of ['device', 'kind', 'severity', 'profile', 'segment']) {
    const v = String(a[k] ?? '');
    if (v !== '') tags[k] = v;
  }
  const fields: Record<string, string | number> = {
    peer: a.peer, peer_name: a.peerName, peer_port: a.peerPort, proto: a.proto,
    bytes: a.bytes, packets: a.packets, count: a.count, message: a.message, rule: a.rule,
  };
  // Empty strings stay: a string field may be "" (only tag values cannot be empty).
  return JSON.stringify({ tags, fields: sortKeys(fields) });
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

const TAGS = ['device', 'kind', 'severity', 'profile', 'segment'];
const FIELDS = ['peer', 'peer_name', 'peer_port', 'proto', 'bytes', 'packets', 'count', 'message', 'rule'];

/** The stored anomaly points, each as the same key shape as expectedKey. */
async function storedAnomalies(influxd: Influxd): Promise<string[]> {
  const cols = [...TAGS.map((k) => `"${k}"::tag`), ...FIELDS.map((k) => `"${k}"`)].join(', ');
  const r = await influxd.query(`SELECT ${cols} FROM "anomaly"`, { db: DB, epoch: 'ns' });
  const s = r.results?.[0]?.series?.[0];
  if (!s) return [];
  return s.values.map((v) => {
    const rec = Object.fromEntries(s.columns.map((c, i) => [c, v[i]]));
    const tags: Record<string, string> = {};
    for (const k of TAGS) if (rec[k] !== null && rec[k] !== undefined && rec[k] !== '') tags[k] = String(rec[k]);
    const fields: Record<string, string | number> = {};
    for (const k of FIELDS) if (rec[k] !== null && rec[k] !== undefined) fields[k] = rec[k] as string | number;
    return JSON.stringify({ tags, fields: sortKeys(fields) });
  });
}

function countOf(r: QueryResult): number {
  const v = rows(r)[0]?.[1];
  return typeof v === 'number' ? v : 0;
}

function multiset(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  let influxd: Influxd;
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-e2e-influx-replay-'));
  const spool = join(dir, 'spool');
  t.before(async () => { influxd = await startInfluxd(); });
  t.teardown(async () => { await influxd?.destroy(); rmSync(dir, { recursive: true, force: true }); });

  const replay = () => segwatch(
    ['replay', demo, '--policy', policy, '--format', 'jsonl', '--influx', `${influxd.url}/${DB}`, '--spool-dir', spool],
    { timeoutMs: 60_000 },
  );
  let printed: A[] = [];

  t.test('anomaly points mirror the JSON lines printed', async (t) => {
    const r = replay();
    t.equal(r.code, 0, r.stderr);
    printed = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);
    t.ok(printed.length >= 10, `${printed.length} anomalies printed`);

    const n = countOf(await influxd.query('SELECT count("message") FROM "anomaly"', { db: DB }));
    t.equal(n, printed.length, 'as many anomaly points as JSON lines');

    const want = multiset(printed.map(expectedKey));
    const got = multiset(await storedAnomalies(influxd));
    const missing: string[] = [];
    for (const [k, c] of want) if ((got.get(k) ?? 0) !== c) missing.push(`${k} want ${c} got ${got.get(k) ?? 0}`);
    const extra: string[] = [];
    for (const [k, c] of got) if (!want.has(k)) extra.push(`${k} x${c}`);
    t.same(missing, [], 'every printed anomaly stored with its tags and fields, as often as printed');
    t.same(extra, [], 'nothing stored that was not printed');

    // Timestamps: the first-packet ms of each anomaly (plus a sub-ms offset).
    const times = rows(await influxd.query('SELECT "rule" FROM "anomaly"', { db: DB, epoch: 'ms' })).map((v) => Number(v[0]));
    const printedMs = new Set(printed.map((a) => Date.parse(String(a.time))));
    t.ok(times.every((ms) => printedMs.has(ms)), 'each point at the ms of a printed anomaly');
  });

  t.test('device_traffic, device and collector', async (t) => {
    const byDevice = await influxd.query(
      'SELECT sum("bytes_out") AS bo, sum("bytes_in") AS bi, sum("packets_out") AS po, sum("packets_in") AS pi, sum("flows") AS fl, max("peers") AS pe FROM "device_traffic" GROUP BY "device", "segment"',
      { db: DB },
    );
    const series = byDevice.results?.[0]?.series ?? [];
    t.ok(series.length >= 8, `${series.length} device_traffic series`);
    let total = 0;
    const devices = new Map<string, Record<string, number>>();
    for (const s of series) {
      const rec = Object.fromEntries(s.columns.map((c, i) => [c, s.values[0][i]])) as Record<string, number>;
      t.ok(s.tags?.device, 'device tag');
      t.ok(s.tags?.segment, `segment tag on ${s.tags?.device}`);
      for (const k of ['bo', 'bi', 'po', 'pi', 'fl', 'pe']) t.type(rec[k], 'number', `${s.tags?.device} ${k}`);
      total += rec.bo + rec.bi;
      devices.set(String(s.tags?.device), rec);
    }
    t.ok(total > 0, `bytes in + out over all devices: ${total}`);
    // Every device the policy lists sends traffic in the demo, each under its own name: the
    // entries that name one device (mac:, ip:) by the entry's name, `plugs` (vendor:) and `tv`
    // (hostname:) as <entry>-<last three MAC bytes>.
    const pol = parseYaml(readFileSync(policy, 'utf8')) as { devices: Array<{ name: string }> };
    t.same(pol.devices.map((d) => d.name), ['gateway', 'doorbell', 'nvr', 'plugs', 'tv', 'hub']);
    const listed = ['gateway', 'doorbell', 'nvr', 'plugs-c30041', 'plugs-c30042', 'plugs-c30043', 'tv-d40050', 'hub'];
    for (const name of listed) {
      const rec = devices.get(name);
      t.ok(rec, `device_traffic for ${name}`);
      if (rec) t.ok(rec.bo + rec.bi > 0 && rec.po + rec.pi > 0 && rec.fl > 0, `${name} has bytes, packets and flows`);
    }
    t.notOk(devices.has('plugs'), 'no series sums three plugs');
    // The garage plug alone uploads 1.6 MB (truncated frames count their IP length).
    const garage = devices.get('plugs-c30043');
    t.ok(garage && garage.bo > 1_500_000, `the garage plug sends over 1.5 MB (${garage?.bo})`);
    t.ok((devices.get('plugs-c30041')?.bo ?? Infinity) < 1_000_000, 'the kitchen plug does not');
    // Anomaly devices also appear in device_traffic.
    for (const a of printed) {
      if (a.kind === 'device.spoof') continue;
      t.ok(devices.has(String(a.device)), `device_traffic has ${a.device} (from its ${a.kind})`);
    }

    const dev = await influxd.query('SELECT last("ip") FROM "device" GROUP BY "device", "mac", "vendor"', { db: DB });
    const dseries = dev.results?.[0]?.series ?? [];
    const names = dseries.map((s) => String(s.tags?.device));
    const macs = dseries.map((s) => String(s.tags?.mac));
    for (const name of listed) t.ok(names.includes(name), `device series for ${name}`);
    // test/fixtures/demo/README.md's ten devices, by MAC; each has a name of its own.
    const demoMacs = ['24:5a:4c:50:00:01', '00:b4:63:a1:00:21', '18:80:25:b2:00:30', '14:75:90:c3:00:41', '14:75:90:c3:00:42',
      '14:75:90:c3:00:43', '20:17:42:d4:00:50', 'c4:29:96:e5:00:60', '14:08:08:f6:00:70', '28:cd:c1:07:00:77'];
    for (const m of demoMacs) t.ok(macs.includes(m), `device series for ${m}`);
    t.same(dseries.filter((s) => String(s.tags?.device).startsWith('plugs')).map((s) => `${s.tags?.device} ${s.tags?.mac}`).sort(),
      demoMacs.slice(3, 6).map((m) => `plugs-${m.slice(9).replace(/:/g, '')} ${m}`), 'plugs: three devices, three names');
    t.same(names.filter((n, i) => names.indexOf(n) !== i), [], 'one device series per name');
    t.ok(names.includes('14:08:08:f6:00:70') && names.includes('28:cd:c1:07:00:77'), 'unlisted devices are named by their MAC');
    t.notOk(names.includes('ESP_F60070') || names.includes('raspberrypi'), 'a hostname is never the name');
    const dupes = macs.filter((m, i) => macs.indexOf(m) !== i);
    t.same(dupes, [], `one device series per device (MAC): ${dseries.map((s) => `${s.tags?.device}/${s.tags?.mac}`).join(' ')}`);
    t.same(macs.filter((m) => !demoMacs.includes(m)), [], 'no device from outside the watched VLAN');
    for (const s of dseries) {
      t.match(s.tags?.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, `${s.tags?.device} has a mac tag`);
      t.ok(s.tags && 'vendor' in s.tags, `${s.tags?.device} has a vendor tag`);
    }
    const vendors = dseries.map((s) => s.tags?.vendor ?? '').filter(Boolean);
    t.ok(vendors.length >= 8, `vendors resolved (${vendors.length})`);

    const col = rows(await influxd.query('SELECT "packets" FROM "collector"', { db: DB, epoch: 'ms' }));
    t.ok(col.length >= 2, `${col.length} collector points`);
    const packets = col.map((v) => Number(v[1]));
    t.ok(packets.every((p, i) => i === 0 || p >= packets[i - 1]), 'packets never decrease');
    t.ok(packets[0] < packets[packets.length - 1], 'packets increase');
    t.equal(packets[packets.length - 1], 2272, 'the last collector point holds every packet of the capture');
  });

  t.test('a second replay of the same capture adds no anomaly', async (t) => {
    const before = countOf(await influxd.query('SELECT count("message") FROM "anomaly"', { db: DB }));
    const r = replay();
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.split('\n').filter(Boolean).length, printed.length, 'same anomalies printed');
    const after = countOf(await influxd.query('SELECT count("message") FROM "anomaly"', { db: DB }));
    t.equal(before, printed.length);
    t.equal(after, before, 'anomaly count unchanged');
    const got = multiset(await storedAnomalies(influxd));
    t.same(got, multiset(printed.map(expectedKey)), 'the same points');
  });
}
