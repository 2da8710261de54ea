// The committed deploy/grafana files equal a fresh build, and each dashboard has the panels the
// issue asks for, each with a non-empty InfluxQL query on the segwatch datasource.

import t from 'tap';
import { readFileSync, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../helpers/paths.js';
import { buildDashboards, renderAll, writeDashboards } from '../../../dashboards/build.js';
import { listQueries } from '../../../dashboards/queries.js';

const grafanaDir = join(repoRoot, 'deploy', 'grafana');

t.test('committed files equal a fresh build, byte for byte', async (t) => {
  for (const f of renderAll()) {
    let committed = '';
    try { committed = readFileSync(join(grafanaDir, f.path), 'utf8'); } catch { /* reported below */ }
    t.equal(committed, f.text, `deploy/grafana/${f.path} is up to date (run: segwatch dashboards build)`);
  }
  t.same(readdirSync(join(grafanaDir, 'dashboards')).sort(), buildDashboards().map((d) => d.file).sort(),
    'no stale dashboard files');
});

t.test('writeDashboards writes the same bytes, deterministically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-dash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const written = await writeDashboards(dir);
  t.equal(written.length, renderAll().length);
  for (const f of renderAll()) t.equal(readFileSync(join(dir, f.path), 'utf8'), f.text, f.path);
  t.equal(JSON.stringify(renderAll()), JSON.stringify(renderAll()), 'two builds agree');
  for (const f of renderAll()) t.ok(f.text.endsWith('\n') && !f.text.endsWith('\n\n'), `${f.path}: one trailing newline`);
});

const REQUIRED: Record<string, string[]> = {
  'segwatch-overview': ['Anomalies by kind', 'Anomalies by severity', 'Latest anomalies', 'Devices seen',
    'Top talkers', 'Segment crossings', 'Segment crossings over time', 'Latest segment crossings'],
  'segwatch-device': ['Traffic', 'Packets', 'Peers and flows', 'Anomalies by kind', 'Anomalies and their peers', 'Inventory'],
  'segwatch-collector-health': ['Packets/s', 'Drops and decode errors/s', 'Flows', 'Spool', 'Queue', 'Decode errors in range'],
};

t.test('each dashboard has its panels, each with an InfluxQL query on the segwatch datasource', async (t) => {
  const dashboards = buildDashboards();
  t.same(dashboards.map((d) => d.json.uid), Object.keys(REQUIRED), 'stable uids');
  for (const d of dashboards) {
    const panels = (d.json.panels as Record<string, any>[]).filter((p) => p.type !== 'row');
    const titles = panels.map((p) => p.title);
    for (const title of REQUIRED[String(d.json.uid)]) t.ok(titles.includes(title), `${d.json.uid}: panel ${title}`);
    const ids = (d.json.panels as Record<string, any>[]).map((p) => p.id);
    t.equal(new Set(ids).size, ids.length, `${d.json.uid}: panel ids unique`);
    for (const p of panels) {
      t.same(p.datasource, { type: 'influxdb', uid: 'segwatch-influxdb' }, `${p.title}: datasource`);
      t.ok(p.targets.length > 0, `${p.title}: has targets`);
      for (const q of p.targets) {
        t.match(q.query, /^(SELECT|SHOW) /, `${p.title}/${q.refId}: query`);
        t.equal(q.rawQuery, true, `${p.title}/${q.refId}: raw InfluxQL`);
        t.ok(['time_series', 'table'].includes(q.resultFormat), `${p.title}/${q.refId}: resultFormat`);
      }
    }
  }
  const device = dashboards.find((d) => d.json.uid === 'segwatch-device')!.json as Record<string, any>;
  const v = device.templating.list.find((x: any) => x.name === 'device');
  t.equal(v?.type, 'query', 'device variable');
  t.ok(listQueries().filter((q) => q.dashboard === 'segwatch-device' && q.kind === 'panel')
    .every((q) => q.query.includes('/^$device$/')), 'every device panel filters on $device');
});

t.test('collector rates treat counters as cumulative, and say so', async (t) => {
  const health = listQueries().filter((q) => q.dashboard === 'segwatch-collector-health');
  const pps = health.find((q) => q.panel === 'Packets/s');
  t.equal(pps?.query.startsWith('SELECT non_negative_derivative(max("packets"), 1s)'), true);
  const json = buildDashboards().find((d) => d.json.uid === 'segwatch-collector-health')!.json as Record<string, any>;
  const panel = json.panels.find((p: any) => p.title === 'Packets/s');
  t.match(panel.description, /cumulative/);
});

t.test('provisioning: InfluxQL datasource with env credentials, file provider', async (t) => {
  const ds = parse(readFileSync(join(grafanaDir, 'provisioning/datasources/segwatch.yaml'), 'utf8'));
  const d = ds.datasources[0];
  t.equal(d.uid, 'segwatch-influxdb');
  t.equal(d.type, 'influxdb');
  t.equal(d.url, 'http://influxdb:8086');
  t.equal(d.jsonData.dbName, 'segwatch');
  t.equal(d.jsonData.version, 'InfluxQL');
  t.match(d.user, /^\$\{[A-Z_]+\}$/, 'user from the environment');
  t.match(d.secureJsonData.password, /^\$\{[A-Z_]+\}$/, 'password from the environment');
  const dp = parse(readFileSync(join(grafanaDir, 'provisioning/dashboards/segwatch.yaml'), 'utf8'));
  t.equal(dp.providers[0].type, 'file');
  t.equal(dp.providers[0].options.path, '/var/lib/grafana/dashboards/segwatch');
});
