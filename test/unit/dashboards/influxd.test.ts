// Every dashboard query, expanded as Grafana would, runs on a real influxd: no error on an empty
// database, and at least one series once points shaped like the storage schema are written.

import t from 'tap';
import { have, skipUnless } from '../../helpers/paths.js';
import { expandQuery, grafanaInterval, listQueries } from '../../../dashboards/queries.js';
import { startInfluxd, type Influxd } from '../../helpers/influxd.js';

const T0 = 1_700_000_000_000;
const RANGE = { fromMs: T0, toMs: T0 + 600_000 };
const DEVICE = 'aa:bb:cc:00:00:01';
const VARS = { device: DEVICE };
const KINDS = ['policy.violation', 'segment.crossing', 'device.new', 'device.spoof', 'scan.hosts',
  'scan.ports', 'protocol.plaintext', 'dns.bypass', 'volume.limit'];

/** Points as the influx sink writes them (DESIGN.md storage schema), ms precision. */
function schemaPoints(): string {
  const lines: string[] = [];
  KINDS.forEach((kind, i) => {
    for (const dev of [DEVICE, '192.168.50.23']) {
      lines.push(`anomaly,device=${dev},kind=${kind},profile=camera,segment=iot,severity=${i % 2 ? 'high' : 'critical'} ` +
        `peer="192.168.1.10",peer_name="nas.lan",peer_port=22i,proto="tcp",bytes=1200i,packets=4i,count=${i + 1}i,` +
        `message="camera opened ${kind}",rule="profiles.camera" ${T0 + 30_000 + i * 1000}`);
    }
  });
  for (let m = 0; m < 10; m++) {
    for (const [dev, k] of [[DEVICE, 1], ['192.168.50.23', 3]] as const) {
      lines.push(`device_traffic,device=${dev},segment=iot bytes_out=${1000 * k * (m + 1)}i,bytes_in=${500 * k}i,` +
        `packets_out=${10 * k}i,packets_in=${5 * k}i,flows=${k}i,peers=${k + 1}i ${T0 + m * 60_000}`);
    }
  }
  lines.push(`device,device=${DEVICE},mac=${DEVICE},vendor=Ring ip="192.168.50.10",hostname="doorbell",profile="camera",known=true ${T0 + 1000}`);
  lines.push(`device,device=192.168.50.23,mac=unknown,vendor=unknown ip="192.168.50.23",hostname="",profile="quarantine",known=false ${T0 + 2000}`);
  for (let s = 0; s < 60; s++) {
    lines.push(`collector,host=pi,source=eth0 packets=${s * 1000}i,bytes=${s * 900_000}i,drops=${s}i,decode_errors=${s * 2}i,` +
      `flows_active=${50 + s}i,flows_evicted=${s * 3}i,queue=${s % 5}i,spool_bytes=0i,kernel_drops=${s}i,if_drops=0i,ring_drops=0i ${T0 + s * 10_000}`);
  }
  return lines.join('\n');
}

const queries = listQueries();

t.test('every dashboard query runs on influxd', { skip: skipUnless(have('influxd'), 'influxd not installed') }, async (t) => {
  let influx: Influxd | undefined;
  t.teardown(async () => { await influx?.destroy(); });
  influx = await startInfluxd();
  const server = influx;
  const db = {
    query: (q: string, database?: string) => server.query(q, database ? { db: database } : {}),
    write: async (database: string, lines: string) => {
      const r = await fetch(`${server.url}/write?db=${encodeURIComponent(database)}&precision=ms`, { method: 'POST', body: lines });
      if (r.status !== 204) throw new Error(`write: ${r.status} ${await r.text()}`);
    },
  };

  t.ok(queries.length >= 30, `dashboards list ${queries.length} queries`);
  for (const name of ['empty', 'segwatch']) {
    const created = await db.query(`CREATE DATABASE "${name}"`);
    t.notOk(created.results?.[0]?.error, `create ${name}`);
  }

  const expanded = queries.map((q) => ({
    ...q,
    sql: expandQuery(q.query, VARS, RANGE, grafanaInterval(RANGE, q.minInterval)),
  }));
  for (const q of expanded) {
    t.notMatch(q.sql, /\$\w|\$\{|\[\[/, `${q.dashboard} / ${q.panel} / ${q.refId}: fully expanded`);
  }

  t.test('empty database: every query parses and runs without error', async (t) => {
    for (const q of expanded) {
      const r = await db.query(q.sql, 'empty');
      const err = r.error ?? r.results?.[0]?.error;
      t.equal(err, undefined, `${q.dashboard} / ${q.panel} / ${q.refId}: ${q.sql}`);
    }
  });

  t.test('schema-shaped data: every query returns at least one series', async (t) => {
    await db.write('segwatch', schemaPoints());
    for (const q of expanded) {
      const r = await db.query(q.sql, 'segwatch');
      const res = r.results?.[0];
      t.equal(res?.error, undefined, `${q.dashboard} / ${q.panel} / ${q.refId}: no error`);
      t.ok((res?.series?.length ?? 0) >= 1, `${q.dashboard} / ${q.panel} / ${q.refId}: series returned: ${q.sql}`);
    }
  });

  t.test('queries compute what their panels claim', async (t) => {
    const find = (dash: string, panel: string, refId = 'A') => {
      const q = expanded.find((e) => e.dashboard === dash && e.panel === panel && e.refId === refId);
      if (q === undefined) throw new Error(`no query ${dash} / ${panel}`);
      return q.sql;
    };
    const one = async (sql: string) => (await db.query(sql, 'segwatch')).results?.[0]?.series ?? [];

    const devices = await one(find('segwatch-overview', 'Devices seen'));
    t.equal(devices[0]?.values[0]?.[1], 2, 'two devices with traffic');

    const top = await one(find('segwatch-overview', 'Top talkers'));
    const rows = top[0]?.values ?? [];
    t.equal(rows.length, 2, 'one top-talker row per device');
    const bytesIdx = top[0]?.columns.indexOf('bytes') ?? -1;
    const devIdx = top[0]?.columns.indexOf('device') ?? -1;
    const best = [...rows].sort((a, b) => Number(b[bytesIdx]) - Number(a[bytesIdx]))[0];
    t.equal(best?.[devIdx], '192.168.50.23', 'the busier device tops the list');
    t.equal(best?.[bytesIdx], 3000 * 55 + 1500 * 10, 'its bytes are in + out over the range');

    const crossings = await one(find('segwatch-overview', 'Segment crossings'));
    t.equal(crossings[0]?.values[0]?.[1], 2, 'one crossing per device');

    const pps = await one(find('segwatch-collector-health', 'Packets/s'));
    const ppsValues = (pps[0]?.values ?? []).map((v) => v[1]).filter((v) => v !== null);
    t.ok(ppsValues.length > 0, 'packets/s has values');
    t.ok(ppsValues.every((v) => Math.abs(Number(v) - 100) < 1e-9), 'packets/s = 1000 packets per 10 s');

    const traffic = await one(find('segwatch-device', 'Traffic', 'A'));
    const outs = (traffic[0]?.values ?? []).map((v) => Number(v[1]));
    t.same(outs.slice(0, 3), [1000 / 60, 2000 / 60, 3000 / 60], 'bytes out per second from 60 s totals');

    const inv = await one(find('segwatch-device', 'Inventory'));
    t.equal(inv.length, 1, 'the device variable selects one device');
    t.equal(inv[0]?.tags?.vendor, 'Ring', 'inventory carries the vendor tag');

    const variable = await one(find('segwatch-device', '$device', 'variable'));
    t.same(variable[0]?.values.map((v) => v[1]).sort(), ['192.168.50.23', DEVICE].sort(), 'device variable lists both');
  });
});
