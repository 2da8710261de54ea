// The e-mail channel against a real SMTP server (smtp-server from npm) on loopback: STARTTLS
// with authentication, implicit TLS, what the server received, and the errors SMTP gives.
import t from 'tap';
import fs from 'node:fs';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { parseAlertChannels } from '../../../collector/sinks/alerts/config.js';
import { createChannel } from '../../../collector/sinks/alerts/registry.js';
import type { Channel } from '../../../collector/sinks/alerts/channel.js';
import { alert } from '../../unit/sinks/alerts/fixture.js';
import { makeCerts, tmpDir, type Certs } from './util.js';

interface Mail { raw: string; secure: boolean; user: string | undefined; from: string; to: string[] }

const tmp = tmpDir('segwatch-smtp-');
const certs: Certs = makeCerts(tmp.dir);
const servers: SMTPServer[] = [];
const channels: Channel[] = [];
t.teardown(async () => {
  for (const c of channels) await c.close();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  tmp.remove();
});

/** A server with the test's certificate, user segwatch / pw, collecting what it accepts. */
async function smtp(opts: Partial<SMTPServerOptions> & { dataError?: { code: number; msg: string } } = {}): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const { dataError, ...rest } = opts;
  const server = new SMTPServer({
    key: fs.readFileSync(certs.key), cert: fs.readFileSync(certs.cert),
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'segwatch' && auth.password === 'pw') cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (dataError) return cb(Object.assign(new Error(dataError.msg), { responseCode: dataError.code }));
        mails.push({
          raw: Buffer.concat(chunks).toString(), secure: session.secure, user: session.user as string | undefined,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
        });
        cb();
      });
    },
    logger: false,
    ...rest,
  });
  servers.push(server);
  server.on('error', () => { /* a client's TLS failure, seen by the test from the client side */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

function channel(url: string, extra: Record<string, unknown> = {}, password: string | null = 'pw'): Channel {
  const env: NodeJS.ProcessEnv = password === null ? {} : { SEGWATCH_ALERT_ONCALL_PASSWORD: password };
  const raw: Record<string, unknown> = { name: 'oncall', type: 'email', url, from: 'segwatch@lan', to: ['soc@lan', 'ops@lan'], ca: certs.ca, timeout: '5s', ...extra };
  if (password !== null) raw.username = 'segwatch';
  const r = parseAlertChannels([raw], env);
  if (!r.channels) throw new Error(r.errors.join('; '));
  const ch = createChannel(r.channels[0], env, { hostname: 'segwatch-box' });
  channels.push(ch);
  return ch;
}

t.test('STARTTLS and authentication: subject, body, Message-ID', async (t) => {
  const { port, mails } = await smtp();
  await channel(`smtp://localhost:${port}`).send(alert({ kind: 'policy.violation' }));
  t.equal(mails.length, 1);
  const m = mails[0];
  t.ok(m.secure, 'the session was upgraded with STARTTLS before the mail');
  t.equal(m.user, 'segwatch', 'authenticated');
  t.equal(m.from, 'segwatch@lan');
  t.same(m.to, ['soc@lan', 'ops@lan']);
  t.match(m.raw, /^Subject: \[segwatch\] HIGH policy\.violation: plugs-a1b2c3 -> 203\.0\.113\.5:23\r$/m);
  t.match(m.raw, /^Message-ID: <a1b2c3d4e5f60718\.opened@segwatch>\r$/m);
  t.match(m.raw, /^X-Segwatch-Key: a1b2c3d4e5f60718:opened\r$/m);
  t.match(m.raw, /^Content-Type: text\/plain/m);
  // the body may come quoted-printable, soft line breaks and all
  const body = m.raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
  t.match(body, /What to do:/);
  t.match(body, /disable telnet on the device and change its factory password/);
  t.match(body, /\n  peerPort +23\r?\n/);
});

t.test('implicit TLS (smtps://)', async (t) => {
  const { port, mails } = await smtp({ secure: true });
  await channel(`smtps://localhost:${port}`).send(alert());
  t.equal(mails.length, 1);
  t.ok(mails[0].secure);
});

t.test('STARTTLS is required: a server that does not offer it gets nothing', async (t) => {
  // nodemailer's requireTLS tries STARTTLS even when not advertised: the server must refuse the command
  const { port, mails } = await smtp({ hideSTARTTLS: true, disabledCommands: ['STARTTLS'] });
  const err = await channel(`smtp://localhost:${port}`).send(alert()).catch((e: unknown) => e);
  t.match(err, { name: 'DeliveryError' });
  t.equal(mails.length, 0, 'no mail in clear text');
  t.match(err, { retryable: false, code: 'tls' }, 'a configuration to fix, not a moment to wait');
  const plain = await smtp({ hideSTARTTLS: true, disabledCommands: ['STARTTLS'], authOptional: true });
  await channel(`smtp://127.0.0.1:${plain.port}`, { tls: 'none' }, null).send(alert());
  t.equal(plain.mails.length, 1, 'tls: none to loopback: the documented test-only opt-out');
});

t.test('the certificate is verified', async (t) => {
  const { port } = await smtp({ secure: true });
  const err = await channel(`smtps://localhost:${port}`, { ca: certs.otherCa }).send(alert()).catch((e: unknown) => e);
  t.match(err, { retryable: false, code: 'tls' });
});

t.test('SMTP errors: 535 and 550 are final, 451 and a refused connection are retryable', async (t) => {
  const { port } = await smtp();
  t.match(await channel(`smtp://localhost:${port}`, {}, 'wrong').send(alert()).catch((e: unknown) => e), { retryable: false, code: 'auth' });
  const perm = await smtp({ dataError: { code: 550, msg: 'no such user' } });
  t.match(await channel(`smtp://localhost:${perm.port}`).send(alert()).catch((e: unknown) => e), { retryable: false, code: 'smtp_550' });
  const temp = await smtp({ dataError: { code: 451, msg: 'try later' } });
  t.match(await channel(`smtp://localhost:${temp.port}`).send(alert()).catch((e: unknown) => e), { retryable: true, code: 'smtp_451' });
  t.match(await channel('smtp://localhost:1').send(alert()).catch((e: unknown) => e), { retryable: true });
});
