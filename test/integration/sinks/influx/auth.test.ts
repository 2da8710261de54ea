// Username/password against an influxd with auth on: the database is created
// with the admin's rights; wrong credentials spool (nothing lost) instead of dropping.
import t from 'tap';
import { startInfluxd, influxdAvailable, rows, type Influxd } from '../../../helpers/influxd.js';
import { InfluxSink } from '../../../../collector/sinks/influx/influx-sink.js';
import { anomaly, tmpDir, waitFor } from './util.js';

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  let influxd: Influxd;
  const spool = tmpDir('segwatch-influx-auth-');
  t.before(async () => {
    influxd = await startInfluxd({ auth: true });
    // The first admin user may be created without credentials.
    await influxd.query("CREATE USER admin WITH PASSWORD 'adm1n' WITH ALL PRIVILEGES");
  });
  t.teardown(async () => { await influxd?.destroy(); spool.remove(); });

  t.test('basic auth', async (t) => {
    const bad = await InfluxSink.open({ url: influxd.url + '/authdb', spoolDir: spool.dir + '/a', username: 'admin', password: 'wrong', retryMinMs: 50, retryMaxMs: 100 });
    for (let i = 0; i < 5; i++) bad.anomaly(anomaly(i));
    await bad.flush();
    t.equal(bad.stats().spoolPoints, 5, '401 is not a reason to lose points: spooled');
    await bad.close();
    const good = await InfluxSink.open({ url: influxd.url + '/authdb', spoolDir: spool.dir + '/a', username: 'admin', password: 'adm1n', retryMinMs: 50, retryMaxMs: 100 });
    await waitFor(() => good.stats().spoolBatches === 0, 20000, 'spool replayed with the right password');
    for (let i = 5; i < 10; i++) good.anomaly(anomaly(i));
    await good.flush();
    const n = rows(await influxd.query('SELECT count(rule) FROM anomaly', { db: 'authdb', auth: 'admin:adm1n' }))[0]?.[1];
    t.equal(n, 10);
    await good.close();
  });
}
