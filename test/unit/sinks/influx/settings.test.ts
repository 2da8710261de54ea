import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveInfluxSettings, influxSettingsFromEnv, InfluxSettingsError } from '../../../../collector/sinks/influx/settings.js';
import { classifyWriteError, offendingLines } from '../../../../collector/sinks/influx/write-errors.js';
import { ServiceNotAvailableError } from 'influx/lib/src/pool.js';

t.test('defaults and URL', async (t) => {
  const r = resolveInfluxSettings({ url: 'http://127.0.0.1:8086/segwatch', spoolDir: '/tmp/x' });
  t.match(r, { protocol: 'http', host: '127.0.0.1', port: 8086, database: 'segwatch', baseUrl: 'http://127.0.0.1:8086', batchSize: 5000, flushIntervalMs: 1000, spoolMaxBytes: 256 * 1024 * 1024, createDatabase: true });
  const v6 = resolveInfluxSettings({ url: 'https://user@[::1]/db', spoolDir: '/tmp/x', token: undefined });
  t.match(v6, { protocol: 'https', host: '::1', port: 443, username: 'user' });
  t.equal(resolveInfluxSettings({ url: 'http://h:1/d', spoolDir: '/x', token: 'tok' }).createDatabase, false, 'token: DBRP instead of CREATE DATABASE');
});

t.test('every error at once; no password in the URL', async (t) => {
  try {
    resolveInfluxSettings({ url: 'ftp://u:secret@h/', spoolDir: '', batchSize: 0, retentionPolicy: { name: 'rp', duration: 'forever' } });
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof InfluxSettingsError);
    const e = (err as InfluxSettingsError).errors.join('\n');
    t.match(e, /protocol/); t.match(e, /name the database/); t.match(e, /no password in the URL/);
    t.match(e, /spoolDir/); t.match(e, /batchSize/); t.match(e, /duration/);
  }
});

t.test('secrets from environment and files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segwatch-settings-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'pw'), 's3cret\n');
  const s = influxSettingsFromEnv({ SEGWATCH_INFLUX_URL: 'http://h:8086/db', SEGWATCH_INFLUX_USERNAME: 'w', SEGWATCH_INFLUX_PASSWORD_FILE: path.join(dir, 'pw') }, { spoolDir: dir });
  const r = resolveInfluxSettings(s as never);
  t.equal(r.password, 's3cret', 'file read, trailing newline dropped');
  t.equal(r.username, 'w');
  t.throws(() => resolveInfluxSettings({ url: 'http://h/db', spoolDir: dir, passwordFile: path.join(dir, 'missing') }), /cannot read/);
});

t.test('write error classes', async (t) => {
  t.match(classifyWriteError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), { ok: false, retry: true, reason: 'ECONNREFUSED' });
  t.match(classifyWriteError(new ServiceNotAvailableError('Service Unavailable')), { retry: true, status: 503 });
  t.same(offendingLines(['m a=1', "m b=2", 'n c=1i'], "unable to parse 'm b=2': bad"), ['m b=2']);
  t.same(offendingLines(['m,t=1 f=1i', 'm f=1.5', 'n f=1'], 'partial write: field type conflict: input field "f" on measurement "m" is type float, already exists as type integer dropped=1'), ['m,t=1 f=1i', 'm f=1.5']);
});
