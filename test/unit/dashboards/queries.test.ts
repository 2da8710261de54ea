// expandQuery does what Grafana's InfluxDB datasource does to a raw query before sending it.

import t from 'tap';
import { expandQuery, grafanaInterval, listQueries, roundInterval, secondsToHms } from '../../../dashboards/queries.js';

const RANGE = { fromMs: 1700000000000, toMs: 1700000360000 };

t.test('macros', async (t) => {
  t.equal(expandQuery('WHERE $timeFilter', {}, RANGE, 60000), 'WHERE time >= 1700000000000ms and time <= 1700000360000ms');
  t.equal(expandQuery('GROUP BY time($__interval)', {}, RANGE, 60000), 'GROUP BY time(1m)');
  t.equal(expandQuery('x / $__interval_ms, $__interval', {}, RANGE, 200), 'x / 200, 200ms');
  t.equal(expandQuery('$__range $__range_s $__range_ms', {}, RANGE, 1000), '6m 360 360000');
  t.equal(expandQuery('$__from-$__to', {}, RANGE, 1000), '1700000000000-1700000360000');
  t.equal(expandQuery('${__interval} [[__interval]]', {}, RANGE, 10000), '10s 10s');
  t.equal(expandQuery('$unknown stays', {}, RANGE, 1000), '$unknown stays');
});

t.test('variables: regex-escaped inside /.../, raw elsewhere, multi-value as (a|b)', async (t) => {
  const q = `WHERE "device" =~ /^$device$/`;
  t.equal(expandQuery(q, { device: 'aa:bb:cc:00:00:01' }, RANGE, 1000), 'WHERE "device" =~ /^aa:bb:cc:00:00:01$/');
  t.equal(expandQuery(q, { device: '192.168.50.3' }, RANGE, 1000), 'WHERE "device" =~ /^192\\.168\\.50\\.3$/');
  t.equal(expandQuery(q, { device: 'a/b(c)' }, RANGE, 1000), 'WHERE "device" =~ /^a\\/b\\(c\\)$/');
  t.equal(expandQuery(q, { device: ['x.1', 'y'] }, RANGE, 1000), 'WHERE "device" =~ /^(x\\.1|y)$/');
  t.equal(expandQuery(`WHERE "host" = '$host'`, { host: 'pi.lan' }, RANGE, 1000), `WHERE "host" = 'pi.lan'`);
  t.equal(expandQuery('/^${device}$/ =~', { device: 'a.b' }, RANGE, 1000), '/^a.b$/ =~', 'no =~ before it: not a regex');
});

t.test('Grafana interval arithmetic', async (t) => {
  t.equal(secondsToHms(90), '1m', 'truncates like Grafana');
  t.equal(secondsToHms(0.5), '500ms');
  t.equal(secondsToHms(7200), '2h');
  t.equal(roundInterval(360), 500);
  t.equal(roundInterval(21600), 20000);
  t.equal(grafanaInterval(RANGE, undefined, 1000), 500, '6 min / 1000 points');
  t.equal(grafanaInterval(RANGE, '1m', 1000), 60000, 'min interval floors it');
  t.equal(grafanaInterval({ fromMs: 0, toMs: 86400000 }, '10s', 1000), 60000, 'a day: 1m beats 10s');
});

t.test('listQueries covers every target of every dashboard', async (t) => {
  const qs = listQueries();
  t.same([...new Set(qs.map((q) => q.dashboard))], ['segwatch-overview', 'segwatch-device', 'segwatch-collector-health']);
  for (const q of qs) {
    t.ok(q.query.length > 0 && q.refId.length > 0, `${q.dashboard}/${q.panel}/${q.refId}`);
  }
  t.equal(qs.filter((q) => q.kind === 'variable').length, 1, 'the device variable query');
  const keys = qs.map((q) => `${q.dashboard}/${q.panel}/${q.refId}`);
  t.equal(new Set(keys).size, keys.length, 'dashboard/panel/refId unique');
});
