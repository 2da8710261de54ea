// credentials.default end to end: a capture written by the test (a telnet login typed one
// keystroke per segment with option negotiation and server echo, an HTTP Basic login, and a
// near miss: the right user with a wrong password) through `segwatch replay` and `segwatch
// run`. The logins are found, the near miss is not, and no password appears in full
// anywhere: JSON lines, the table, --out, stderr and the log, nor InfluxDB (a real influxd).

import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segwatch, skipUnless } from '../helpers/paths.js';
import { startInfluxd, influxdAvailable, type Influxd } from '../helpers/influxd.js';
import { PcapWriter } from '../fixtures/synth/pcap-writer.js';
import { tcpConversation, type Host } from '../fixtures/synth/conversation.js';
import { httpGet, httpResponse, telnetKeystrokeLogin } from '../fixtures/synth/app.js';

const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const DVR: Host = { mac: '18:80:25:b2:00:30', ip: '192.168.50.30' };
const NVR: Host = { mac: '18:80:25:b2:00:31', ip: '192.168.50.31' };
const GW = '24:5a:4c:50:00:01';
const BOT: Host = { mac: GW, ip: '203.0.113.66' };
const BOT2: Host = { mac: GW, ip: '203.0.113.67' };
/** the passwords used, none of which may be printed or stored */
const SECRETS = ['xc3511', '7ujMko0admin', 'xc3512'];
const T0 = Date.UTC(2026, 10, 5, 9, 0, 0) * 1000;

const dir = mkdtempSync(join(tmpdir(), 'segwatch-e2e-cred-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cap = join(dir, 'logins.pcap');
const policy = join(dir, 'policy.yaml');
writeFileSync(policy, `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: camera, mac: "${CAM.mac}", profile: camera }
  - { name: dvr, mac: "${DVR.mac}", profile: camera }
  - { name: nvr, mac: "${NVR.mac}", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { service: dns }
      - { to: "segment:iot", ports: ["80/tcp"] }
`);
{
  const w = new PcapWriter(cap);
  const wire = { sink: w };
  const ex = (segs: ['c' | 's', Buffer][]) => segs.map(([from, data]) => ({ from, data }));
  // a bot logs in to the camera's telnet with a factory credential, one keystroke a segment
  tcpConversation(wire, { client: BOT, server: CAM, sport: 51234, dport: 23, t0Us: T0, rttUs: 40_000, gapUs: 80_000,
    exchanges: ex(telnetKeystrokeLogin('root', 'xc3511', { typo: true })) });
  // the NVR fetches a snapshot from the camera with HTTP Basic auth and a factory credential
  tcpConversation(wire, { client: NVR, server: CAM, sport: 41001, dport: 80, t0Us: T0 + 20e6, exchanges: [
    { from: 'c', data: httpGet({ host: CAM.ip, path: '/cgi-bin/snapshot.cgi', basicAuth: 'admin:7ujMko0admin' }) },
    { from: 's', data: httpResponse(200, 'OK', 'jpeg') },
  ] });
  // near miss: the DVR's telnet, right user, wrong password
  tcpConversation(wire, { client: BOT2, server: DVR, sport: 51300, dport: 23, t0Us: T0 + 30e6, rttUs: 40_000, gapUs: 80_000,
    exchanges: ex(telnetKeystrokeLogin('root', 'xc3512')) });
  w.close();
}

const noSecret = (t: Test, what: string, text: string) => {
  for (const s of SECRETS) t.notOk(text.includes(s), `${what}: no "${s}"`);
};

type A = Record<string, string | number>;

t.test('replay, JSON lines: both logins found, the near miss not, no password anywhere', async (t) => {
  const r = segwatch(['replay', cap, '--policy', policy, '--format', 'jsonl'], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const as = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as A);
  const creds = as.filter((a) => a.kind === 'credentials.default').sort((a, b) => Number(a.peerPort) - Number(b.peerPort));
  t.same(creds.map((a) => [a.device, a.peer, a.peerPort, a.severity, a.rule]), [
    ['camera', BOT.ip, 23, 'critical', 'credentials.default'],
    ['camera', NVR.ip, 80, 'critical', 'credentials.default'],
  ]);
  t.match(String(creds[0].message), /as "root" with a factory-default password \(xc\*\*\*\*/);
  t.match(String(creds[1].message), /as "admin" with a factory-default password \(7u\*\*\*\*/);
  t.equal(as.filter((a) => a.kind === 'credentials.default' && a.device === 'dvr').length, 0, 'near miss: not found');
  t.ok(as.some((a) => a.kind === 'protocol.plaintext' && a.device === 'dvr'), 'the near miss is still clear text');
  noSecret(t, 'stdout', r.stdout);
  noSecret(t, 'stderr', r.stderr);
});

t.test('replay, table', async (t) => {
  const r = segwatch(['replay', cap, '--policy', policy], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /credentials\.default/);
  t.match(r.stdout, /xc\*\*\*\*/);
  noSecret(t, 'table', r.stdout);
  noSecret(t, 'stderr', r.stderr);
});

t.test('run with --out and a trace log', async (t) => {
  const out = join(dir, 'out.jsonl');
  const state = join(dir, 'state');
  const r = segwatch(['run', '--policy', policy, '--capture', cap, '--out', out, '--log-level', 'trace', '--state-dir', state],
    { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(out, 'utf8');
  t.equal(text.split('\n').filter((l) => l.includes('"credentials.default"')).length, 4, 'two logins, each opened and closed');
  t.ok(r.stderr.length + r.stdout.length > 0, 'something was logged');
  noSecret(t, '--out', text);
  noSecret(t, 'log (stdout)', r.stdout);
  noSecret(t, 'log (stderr)', r.stderr);
  // the state database: its rows, and every byte of its files (free pages, the WAL)
  const db = new Database(join(state, 'state.db'), { readonly: true });
  const rows = JSON.stringify(db.prepare('SELECT * FROM anomalies').all()) + JSON.stringify(db.prepare('SELECT * FROM devices').all());
  db.close();
  t.match(rows, /credentials\.default/, 'the state database holds the anomalies');
  t.match(rows, /xc\*\*\*\*/, 'with the masked password');
  noSecret(t, 'state database rows', rows);
  for (const f of readdirSync(state).filter((n) => n.startsWith('state.db'))) noSecret(t, `state file ${f}`, readFileSync(join(state, f)).toString('latin1'));
});

t.test('InfluxDB: the anomaly points hold no password', { skip: skipUnless(influxdAvailable(), 'needs influxd (Debian package influxdb)') }, async (t) => {
  const influxd: Influxd = await startInfluxd();
  t.teardown(() => influxd.destroy());
  const r = segwatch(['replay', cap, '--policy', policy, '--format', 'jsonl', '--influx', `${influxd.url}/segwatch`, '--spool-dir', join(dir, 'spool')],
    { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  const q = await influxd.query('SELECT * FROM "anomaly"', { db: 'segwatch' });
  const text = JSON.stringify(q);
  t.match(text, /credentials\.default/, 'the points are there');
  t.match(text, /xc\*\*\*\*/, 'with the masked password');
  noSecret(t, 'influx anomaly', text);
  const all = JSON.stringify(await influxd.query('SELECT * FROM /.*/', { db: 'segwatch' }));
  noSecret(t, 'every measurement', all);
});
