// The devices table's MUD URL (one migration of its own): kept across a reopen, '' read back as
// no URL, and a database written before the migration gains the column with its rows intact.
import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateDb, STATE_FILE } from '../../../collector/state/db.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../collector/state/migrations.js';
import type { Device } from '../../../collector/types.js';

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-state-mud-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const URL = 'https://mudctl.example.com/.well-known/mud/v1/rasbp101';
const dev = (id: string, over: Partial<Device> = {}): Device => ({
  id, name: id, mac: id, ips: ['192.168.50.9'], vendor: '', hostname: '', profile: 'mud:rasbp101', segment: 'iot', firstSeen: 1, lastSeen: 2, known: false, ...over,
});

t.test('saved, reopened, read back; a device without one has no mudUrl field', async (t) => {
  const dir = tmp(t);
  const db = StateDb.open(dir);
  db.saveDevice(dev('b8:27:eb:b8:53:c8', { mudUrl: URL }));
  db.saveDevice(dev('02:00:00:00:00:01'));
  db.close();
  const again = StateDb.open(dir);
  t.teardown(() => again.close());
  const byId = new Map(again.devices().map((d) => [d.id, d]));
  t.equal(byId.get('b8:27:eb:b8:53:c8')?.mudUrl, URL);
  t.notOk('mudUrl' in byId.get('02:00:00:00:00:01')!);
  // a later announcement replaces it
  again.saveDevice(dev('b8:27:eb:b8:53:c8', { mudUrl: URL + '-v2' }));
  t.equal(again.devices().find((d) => d.id === 'b8:27:eb:b8:53:c8')?.mudUrl, URL + '-v2');
});

t.test('a database from before the migration gains the column; its devices stay', async (t) => {
  const dir = join(tmp(t), 'state');
  mkdirSync(dir);
  const at = MIGRATIONS.findIndex((m) => /MUD URL/.test(m.what));
  t.ok(at >= 0 && at < SCHEMA_VERSION, 'one migration adds it');
  const raw = new Database(join(dir, STATE_FILE));
  for (const m of MIGRATIONS.slice(0, at)) raw.exec(m.sql);
  raw.pragma(`user_version = ${at}`);
  raw.prepare(`INSERT INTO devices (id, name, mac, ips, vendor, hostname, profile, segment, known, first_seen, last_seen)
    VALUES ('02:00:00:00:00:02', 'old', '02:00:00:00:00:02', '[]', '', '', 'quarantine', 'iot', 0, 1, 2)`).run();
  raw.close();
  const db = StateDb.open(dir);
  t.teardown(() => db.close());
  const d = db.devices().find((x) => x.id === '02:00:00:00:00:02');
  t.equal(d?.name, 'old');
  t.notOk(d && 'mudUrl' in d);
  db.saveDevice({ ...d!, mudUrl: URL });
  t.equal(db.devices().find((x) => x.id === '02:00:00:00:00:02')?.mudUrl, URL);
});
