// The state database: created at the current schema, migrated from older ones, refused when
// newer; devices and anomalies read back after a reopen; writes batched into one transaction
// that other readers see only once committed; a directory it cannot use is refused with a
// message that says how to choose another.

import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateDb, StateError, STATE_FILE } from '../../../collector/state/db.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../collector/state/migrations.js';
import type { Anomaly, Device } from '../../../collector/types.js';

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-state-unit-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const T0 = Date.parse('2026-11-01T10:00:00Z');

const device = (over: Partial<Device> = {}): Device => ({
  id: '14:75:90:c3:00:42', name: 'plugs-c30042', mac: '14:75:90:c3:00:42', ips: ['192.168.50.42'], vendor: 'TP-LINK',
  hostname: 'HS110', profile: 'plug', segment: 'iot', firstSeen: T0, lastSeen: T0 + 1000, known: true, ...over,
});

const anomaly = (over: Partial<Anomaly> = {}): Anomaly => ({
  id: 'a1b2c3d4e5f6a7b8c9d0', time: new Date(T0).toISOString(), kind: 'policy.violation', severity: 'high', device: 'plugs-c30042',
  mac: '14:75:90:c3:00:42', ip: '192.168.50.42', segment: 'iot', profile: 'plug', peer: '203.0.113.5', peerName: '', peerPort: 23,
  proto: 'tcp', bytes: 60, packets: 1, count: 1, firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0).toISOString(),
  rule: 'profile plug', message: 'plug opened tcp/23', state: 'open', closeReason: '', suppressed: false, ...over,
});

const tick = () => new Promise<void>((r) => setImmediate(r));

t.test('a new directory gets the current schema, WAL, and a file only its group can read', async (t) => {
  const dir = join(tmp(t), 'nested', 'state');
  const db = StateDb.open(dir);
  t.teardown(() => db.close());
  t.equal(db.schemaVersion, SCHEMA_VERSION, `schema version ${SCHEMA_VERSION}`);
  const raw = new Database(join(dir, STATE_FILE), { readonly: true });
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  t.same(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => (r as { name: string }).name), ['alert_bodies', 'anomalies', 'devices', 'held_digests', 'learning', 'meta', 'outbox', 'sqlite_sequence']);
  raw.close();
  t.equal(statSync(join(dir, STATE_FILE)).mode & 0o777, 0o640, 'state.db mode 0640');
  t.equal(statSync(dir).mode & 0o777, 0o750, 'directory mode 0750');
});

t.test('devices and anomalies read back after a reopen', async (t) => {
  const dir = tmp(t);
  let db = StateDb.open(dir);
  db.saveDevice(device());
  db.saveDevice(device({ id: '00:b4:63:a1:00:21', mac: '00:b4:63:a1:00:21', name: 'doorbell', ips: [], firstSeen: T0 + 5, lastSeen: T0 + 5 }));
  db.deviceSeen('14:75:90:c3:00:42', T0 + 60_000);
  db.saveAnomaly(anomaly(), 'opened', 'cause-1');
  db.saveAnomaly(anomaly({ count: 7, lastSeen: new Date(T0 + 30_000).toISOString() }), 'updated', 'cause-1');
  db.saveAnomaly(anomaly({ id: 'ffff', kind: 'device.new', state: 'closed', closeReason: 'idle' }), 'closed', 'cause-2');
  db.close();

  db = StateDb.open(dir);
  t.teardown(() => db.close());
  const devs = db.devices();
  t.same(devs.map((d) => d.name), ['plugs-c30042', 'doorbell'], 'both devices, by first seen');
  t.same(devs[0], device({ lastSeen: T0 + 60_000 }), 'every field, lastSeen brought forward');
  const open = db.openAnomalies();
  t.equal(open.length, 1, 'only the open anomaly is resumed');
  t.equal(open[0].a.count, 7, 'with its last written count');
  t.equal(open[0].cause, 'cause-1');
  t.equal(open[0].first, T0);
  t.equal(open[0].last, T0 + 30_000);
  t.equal(db.anomalies(10).length, 2, 'closed ones are kept for the API');
});

t.test('a batch is one transaction: another connection sees it only after the microtask commit', async (t) => {
  const dir = tmp(t);
  const db = StateDb.open(dir);
  t.teardown(() => db.close());
  const other = new Database(join(dir, STATE_FILE), { readonly: true });
  t.teardown(() => other.close());
  const n = () => (other.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
  for (let i = 0; i < 50; i++) db.saveDevice(device({ id: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`, mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}` }));
  t.equal(n(), 0, 'nothing visible while the batch is open');
  await tick();
  t.equal(n(), 50, 'all 50 visible at once after the commit');
});

t.test('a database written by a newer segwatch is refused, an older one migrated', async (t) => {
  const dir = tmp(t);
  const raw = new Database(join(dir, STATE_FILE));
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  t.throws(() => StateDb.open(dir), { message: new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this segwatch knows`) });

  const dir2 = tmp(t);
  const old = new Database(join(dir2, STATE_FILE));
  old.exec(MIGRATIONS[0].sql);
  old.pragma('user_version = 1');
  old.prepare(`INSERT INTO devices VALUES ('aa:bb:cc:00:00:01', 'x', 'aa:bb:cc:00:00:01', '[]', '', '', '', '', 0, 1, 2)`).run();
  old.close();
  const db = StateDb.open(dir2);
  t.teardown(() => db.close());
  t.equal(db.schemaVersion, SCHEMA_VERSION, 'brought to the current version');
  t.equal(db.devices().length, 1, 'its rows kept');
  t.ok(db.connection.prepare("SELECT name FROM sqlite_master WHERE name = 'outbox'").get(), 'version 2 added the alert outbox');
});

t.test('a directory that cannot be used is refused with what to do', async (t) => {
  const base = tmp(t);
  const file = join(base, 'a-file');
  writeFileSync(file, '');
  const e = (() => { try { StateDb.open(join(file, 'state')); return null; } catch (err) { return err as Error; } })();
  t.ok(e instanceof StateError, 'a StateError');
  t.match(e?.message, /the state directory .*a-file\/state cannot be created or written \(ENOTDIR\)/);
  t.match(e?.message, /--state-dir DIR, SEGWATCH_STATE_DIR or state_dir:/, 'says how to choose another');
  // /proc refuses mkdir with ENOENT, which Node's recursive mkdir retries forever
  t.throws(() => StateDb.open('/proc/segwatch-no-such/state'), { message: /cannot be created or written \(ENOENT\)/ });

  const garbage = tmp(t);
  writeFileSync(join(garbage, STATE_FILE), 'this is not a database, it only has the name of one'.repeat(100));
  t.throws(() => StateDb.open(garbage), { message: /state database .* cannot be used .*restore it from a backup/ });
});

t.test('closed anomalies past their retention are forgotten, open ones never', async (t) => {
  const db = StateDb.open(tmp(t));
  t.teardown(() => db.close());
  db.saveAnomaly(anomaly({ id: 'old-closed', state: 'closed', closeReason: 'idle' }), 'closed', 'c1');
  db.saveAnomaly(anomaly({ id: 'old-open' }), 'opened', 'c2');
  db.saveAnomaly(anomaly({ id: 'new-closed', state: 'closed', lastSeen: new Date(T0 + 86_400_000).toISOString() }), 'closed', 'c3');
  t.equal(db.pruneClosed(T0 + 1000), 1, 'one pruned');
  t.same(db.anomalies(10).map((a) => a.id).sort(), ['new-closed', 'old-open']);
});
