// Nothing lost, nothing doubled: influxd stopped mid-replay, the collector
// restarted while it is down, and a full spool, against a real influxd.
import t, { type Test } from 'tap';
import { startInfluxd, influxdAvailable, rows, type Influxd } from '../../../helpers/influxd.js';
import { InfluxSink } from '../../../../collector/sinks/influx/influx-sink.js';
import { anomaly, captureLog, tmpDir, waitFor } from './util.js';

const fast = { batchSize: 20, flushIntervalMs: 50, retryMinMs: 50, retryMaxMs: 300, timeoutMs: 3000 };

/** Every rule value r0..r(n-1) exactly once. */
async function assertExactlyOnce(t: Test, influxd: Influxd, db: string, n: number, from = 0): Promise<void> {
  // influxd acknowledges a write before every query sees it (seen in CI: count 10 of 30, and all
  // 30 in the query just after): the count is read again for up to 10 s before it is judged
  const countNow = async () => rows(await influxd.query('SELECT count(rule) FROM anomaly', { db }))[0]?.[1];
  let count = await countNow();
  for (const until = Date.now() + 10_000; count !== n && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 100));
    count = await countNow();
  }
  t.equal(count, n, `${n} anomaly points`);
  const rules = rows(await influxd.query('SELECT rule FROM anomaly', { db })).map((r) => r[1] as string);
  const seen = new Set(rules);
  t.equal(seen.size, rules.length, 'no anomaly twice');
  let missing = 0;
  for (let i = from; i < from + n; i++) if (!seen.has(`r${i}`)) missing++;
  t.equal(missing, 0, 'no anomaly missing');
}

if (!influxdAvailable()) {
  t.fail('influxd (Debian package influxdb) is required for this test');
} else {
  let influxd: Influxd;
  const spool = tmpDir('segwatch-influx-fault-');
  t.before(async () => { influxd = await startInfluxd(); });
  t.teardown(async () => { await influxd?.destroy(); spool.remove(); });

  t.test('influxd stopped in the middle of a replay and started again', async (t) => {
    const { log, lines } = captureLog();
    const sink = await InfluxSink.open({ url: influxd.url + '/midreplay', spoolDir: spool.dir + '/a', ...fast }, { log });
    let next = 0;
    for (; next < 1000; next++) sink.anomaly(anomaly(next));
    await sink.flush();
    t.equal(sink.stats().spoolBatches, 0, 'delivered while up');
    t.equal(rows(await influxd.query('SELECT count(rule) FROM anomaly', { db: 'midreplay' }))[0]?.[1], 1000, 'written while up');

    await influxd.stop({ hard: true });
    for (; next < 9000; next++) sink.anomaly(anomaly(next));
    await sink.flush();
    let st = sink.stats();
    t.equal(st.spoolPoints, 8000, 'the outage went to the spool');
    t.ok(st.spoolBytes > 0);
    t.notOk(st.up);
    t.ok(lines.some((l) => l.level === 'warn' && /spooling/.test(l.msg)), 'logged going down');

    await influxd.start();
    const before = st.spoolBatches;
    await waitFor(() => sink.stats().spoolBatches < before - 5, 30000, 'replay to start');
    await influxd.stop({ hard: true });
    st = sink.stats();
    t.ok(st.spoolBatches > 0 && st.spoolBatches < before, `stopped mid-replay (${before - st.spoolBatches} of ${before} batches replayed)`);

    for (; next < 10000; next++) sink.anomaly(anomaly(next)); // still arriving during the second outage
    await sink.flush();
    await influxd.start();
    await waitFor(() => { const s = sink.stats(); return s.spoolBatches === 0 && s.pending === 0; }, 60000, 'spool drained');
    await sink.flush();
    t.ok(lines.some((l) => /answers again/.test(l.msg)), 'logged coming back');
    t.equal(sink.stats().dropped, 0);
    await assertExactlyOnce(t, influxd, 'midreplay', 10000);
    await sink.close();
  });

  t.test('collector restarted while influxd is down (and stopped mid-replay)', async (t) => {
    const dir = spool.dir + '/b';
    await influxd.stop();
    // Down at start: the sink still opens, spools, and creates the database later.
    let sink = await InfluxSink.open({ url: influxd.url + '/restart', spoolDir: dir, ...fast });
    let next = 0;
    for (; next < 3000; next++) sink.anomaly(anomaly(next));
    await sink.close();
    t.equal(sink.stats().spoolPoints, 3000, 'closed with everything in the spool');

    sink = await InfluxSink.open({ url: influxd.url + '/restart', spoolDir: dir, ...fast });
    t.equal(sink.stats().spoolPoints, 3000, 'the new run found the spool');
    for (; next < 6000; next++) sink.anomaly(anomaly(next));
    await sink.flush();
    t.equal(sink.stats().spoolPoints, 6000, 'new points queued behind the old backlog');

    await influxd.start();
    const before = sink.stats().spoolBatches;
    await waitFor(() => sink.stats().spoolBatches < before - 5, 30000, 'replay to start');
    await influxd.stop({ hard: true });
    await sink.close(); // and the collector goes down too, mid-replay
    sink = await InfluxSink.open({ url: influxd.url + '/restart', spoolDir: dir, ...fast });
    t.ok(sink.stats().spoolBatches < before && sink.stats().spoolBatches > 0, 'the restart resumes after what was acknowledged');
    await influxd.start();
    await waitFor(() => sink.stats().spoolBatches === 0, 60000, 'spool drained');
    await assertExactlyOnce(t, influxd, 'restart', 6000);
    await sink.close();
  });

  t.test('a full spool drops new points, counted and logged; the rest arrives', async (t) => {
    const { log, lines } = captureLog();
    await influxd.stop();
    const sink = await InfluxSink.open({ url: influxd.url + '/bounded', spoolDir: spool.dir + '/c', spoolMaxBytes: 64 * 1024, ...fast }, { log });
    for (let i = 0; i < 2000; i++) sink.anomaly(anomaly(i));
    await sink.flush();
    const st = sink.stats();
    t.ok(st.dropped > 0, `dropped ${st.dropped}`);
    t.ok(st.spoolFull);
    t.ok(st.spoolBytes <= 64 * 1024, 'bound kept');
    t.equal(st.spoolPoints + st.dropped, 2000, 'every point either spooled or counted as dropped');
    t.equal(lines.filter((l) => l.level === 'error' && /spool full/.test(l.msg)).length, 1, 'one log line when it fills');
    const kept = st.spoolPoints;
    await influxd.start();
    await waitFor(() => sink.stats().spoolBatches === 0, 60000, 'spool drained');
    await assertExactlyOnce(t, influxd, 'bounded', kept);
    t.notOk(sink.stats().spoolFull, 'room again');
    await sink.close();
  });

  t.test('a point InfluxDB rejects is logged with the point; the rest is written', async (t) => {
    const { log, lines } = captureLog();
    const sink = await InfluxSink.open({ url: influxd.url + '/bad', spoolDir: spool.dir + '/d', ...fast, batchSize: 1000 }, { log });
    for (let i = 0; i < 10; i++) sink.anomaly(anomaly(i));
    // "time" is not a valid field name. The point is in the others' week: in one shard InfluxDB
    // drops it and writes the rest. A point of another week went to a second new shard in the same
    // write, and under load influxd 1.6 then answered "partial write ... dropped=1" yet kept none
    // of the other 20 (seen 4 times in 63 runs beside two busy cores; the next batch's float
    // "count" then refused its 10 integer counts).
    sink.point({ measurement: 'anomaly', tags: { device: 'x' }, ints: { time: 1 }, time: Date.UTC(2024, 0, 1, 0, 0, 2) });
    for (let i = 10; i < 20; i++) sink.anomaly(anomaly(i));
    await sink.flush();
    // A type conflict: "count" is an integer in this database.
    sink.point({ measurement: 'anomaly', tags: { device: 'y' }, fields: { count: 1.5 }, time: Date.UTC(2024, 0, 1, 0, 0, 1) }); // types are per shard: same week as the others
    for (let i = 20; i < 30; i++) sink.anomaly(anomaly(i));
    await sink.flush();
    const st = sink.stats();
    t.equal(st.failedPoints, 2, 'two points rejected');
    t.equal(st.spoolBatches, 0, 'nothing spooled: a 4xx is not retried');
    const errs = lines.filter((l) => l.level === 'error' && /rejected/.test(l.msg));
    t.equal(errs.length, 2, 'each rejection logged');
    const pts = errs.map((e) => (e.obj as { points: string[] }).points).flat();
    t.ok(pts.some((p) => p.startsWith('anomaly,device=x time=1i')), 'the bad point is in the log');
    t.ok(pts.some((p) => p.startsWith('anomaly,device=y count=1.5')), 'the conflicting point is in the log');
    await assertExactlyOnce(t, influxd, 'bad', 30);
    await sink.close();
  });
}
