// Every query of the dashboards, expanded as Grafana would (variables from their own queries,
// $timeFilter and $__interval over the demo's range), runs against a real influxd holding a demo
// replay and returns data.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, segwatch } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, type Influxd, type QueryResult } from '../helpers/influxd.js';
import { listQueries, expandQuery, grafanaInterval } from '../../dashboards/queries.js';

const demo = join(repoRoot, 'test/fixtures/demo/demo.pcap');
const policy = join(repoRoot, 'test/fixtures/demo/policy.yaml');
const DB = 'segwatch';
// The demo starts at 2026-11-01T10:00:00Z and lasts under 3 minutes; a dashboard over 10 minutes.
const range = { fromMs: Date.parse('2026-11-01T10:00:00Z'), toMs: Date.parse('2026-11-01T10:10:00Z') };

function problem(r: QueryResult): string | null {
  if (r.error) return r.error;
  const res = r.results ?? [];
  if (res.length === 0) return 'no results';
  for (const x of res) {
    if (x.error) return x.error;
    if (!x.series || x.series.length === 0) return 'no series';
    if (x.series.every((s) => s.values.length === 0)) return 'series without values';
  }
  return null;
}

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  let influxd: Influxd;
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-e2e-dash-'));
  t.before(async () => {
    influxd = await startInfluxd();
    const r = segwatch(['replay', demo, '--policy', policy, '--quiet', '--format', 'jsonl',
      '--influx', `${influxd.url}/${DB}`, '--spool-dir', join(dir, 'spool')], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`replay failed: ${r.stderr}`);
  });
  t.teardown(async () => { await influxd?.destroy(); rmSync(dir, { recursive: true, force: true }); });

  t.test('every dashboard query returns data over the demo', async (t) => {
    const queries = listQueries();
    t.ok(queries.length >= 20, `${queries.length} queries`);
    const vars: Record<string, string> = {};

    // Variables first, from their own queries (as Grafana fills the drop-downs).
    for (const q of queries.filter((q) => q.kind === 'variable')) {
      const name = q.panel.slice(1);
      const text = expandQuery(q.query, vars, range, grafanaInterval(range));
      const r = await influxd.query(text, { db: DB });
      const err = problem(r);
      t.equal(err, null, `${q.dashboard} ${q.panel} (${q.refId}): ${text}`);
      const values = (r.results?.[0]?.series ?? []).flatMap((s) => s.values.map((v) => String(v[v.length - 1])));
      t.ok(values.length > 0, `${q.dashboard} ${q.panel} offers values`);
      if (name === 'device') {
        // The device with most traffic, among those the variable offers.
        const top = await influxd.query(
          'SELECT sum("bytes_out") + sum("bytes_in") AS "bytes" FROM "device_traffic" GROUP BY "device"', { db: DB });
        const ranked = (top.results?.[0]?.series ?? [])
          .map((s) => ({ device: String(s.tags?.device), bytes: Number(s.values[0]?.[1]) }))
          .filter((d) => values.includes(d.device))
          .sort((a, b) => b.bytes - a.bytes);
        t.ok(ranked.length > 0, 'a device of the variable has traffic');
        vars.device = ranked[0]?.device ?? values[0];
        t.comment(`device = ${vars.device}`);
      } else {
        vars[name] = values[0];
      }
    }
    t.ok(vars.device, 'the device variable is filled');

    const failures: string[] = [];
    for (const q of queries.filter((q) => q.kind === 'panel')) {
      const text = expandQuery(q.query, vars, range, grafanaInterval(range, q.minInterval));
      t.notMatch(text, /\$\w|\[\[/, `${q.dashboard} / ${q.panel} / ${q.refId}: no variable left`);
      let err: string | null;
      try {
        err = problem(await influxd.query(text, { db: DB }));
      } catch (e) {
        err = (e as Error).message;
      }
      t.equal(err, null, `${q.dashboard} / ${q.panel} / ${q.refId} returns data: ${text}`);
      if (err) failures.push(`${q.dashboard} / ${q.panel} / ${q.refId}: ${err}`);
    }
    t.same(failures, [], 'no query errors or comes back empty');
  });
}
