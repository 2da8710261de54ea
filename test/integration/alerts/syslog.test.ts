// The syslog channel against a real rsyslogd started here on loopback: UDP, TCP (octet
// counting) and TLS (gtls driver, certificates made with openssl). rsyslog's own RFC 5424
// parser and mmpstrucdata must find MSGID, PRI and every structured-data parameter, escapes undone.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { parseAlertChannels } from '../../../collector/sinks/alerts/config.js';
import { createChannel } from '../../../collector/sinks/alerts/registry.js';
import type { Channel } from '../../../collector/sinks/alerts/channel.js';
import { ANOMALY_FIELDS } from '../../../collector/sinks/anomaly-fields.js';
import { alert } from '../../unit/sinks/alerts/fixture.js';
import { available, Daemon, launch, makeCerts, tmpDir, waitFor, type Certs } from './util.js';

const RSYSLOGD = '/usr/sbin/rsyslogd';

interface Line { msgid: string; pri: number; app: string; host: string; procid: string; sd: Record<string, string>; msg: string }

function conf(dir: string, certs: Certs, p: { udp: number; tcp: number; tls: number }): string {
  // one ruleset per transport, so each test knows which listener got its message
  const rules = ['udp', 'tcp', 'tls'].map((n) => `
ruleset(name="${n}") {
  action(type="mmpstrucdata" sd_name.lowercase="off")
  action(type="omfile" file="${dir}/${n}.log" template="line")
}`).join('');
  return `
global(workDirectory="${dir}" maxMessageSize="64k"
  DefaultNetstreamDriverCAFile="${certs.ca}" DefaultNetstreamDriverCertFile="${certs.cert}" DefaultNetstreamDriverKeyFile="${certs.key}")
module(load="imudp")
module(load="imtcp" maxSessions="20")
module(load="mmpstrucdata")
template(name="line" type="list") {
  property(name="msgid") constant(value="\\t") property(name="pri") constant(value="\\t")
  property(name="app-name") constant(value="\\t") property(name="hostname") constant(value="\\t")
  property(name="procid") constant(value="\\t") property(name="$!rfc5424-sd")
  constant(value="\\t") property(name="msg" controlcharacters="escape") constant(value="\\n")
}
input(type="imudp" address="127.0.0.1" port="${p.udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="${p.tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="${p.tls}" ruleset="tls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
${rules}
`;
}

function read(file: string): Line[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [msgid, pri, app, host, procid, sd, msg] = l.split('\t');
    const parsed = JSON.parse(sd || '{}') as Record<string, Record<string, string>>;
    return { msgid, pri: Number(pri), app, host, procid, sd: parsed['segwatch@32473'] ?? {}, msg };
  });
}

if (!available(RSYSLOGD)) {
  t.fail('rsyslogd (Debian packages rsyslog and rsyslog-gnutls) is required for this test');
} else {
  const tmp = tmpDir('segwatch-syslog-');
  const dir = tmp.dir;
  let certs: Certs;
  let ports: { udp: number; tcp: number; tls: number };
  let rsyslog: Daemon;
  const channels: Channel[] = [];

  t.before(async () => {
    certs = makeCerts(dir);
    let list: number[];
    ({ daemon: rsyslog, ports: list } = await launch(3, ([udp, tcp, tls]) => {
      fs.writeFileSync(path.join(dir, 'rsyslog.conf'), conf(dir, certs, { udp, tcp, tls }));
      return new Daemon(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')], [tcp, tls]);
    }));
    ports = { udp: list[0], tcp: list[1], tls: list[2] };
  });
  t.teardown(async () => {
    for (const c of channels) await c.close();
    await rsyslog?.stop();
    tmp.remove();
  });

  function channel(url: string, extra: Record<string, unknown> = {}): Channel {
    const r = parseAlertChannels([{ name: 'siem', type: 'syslog', url, hostname: 'segwatch-box', ...extra }], {});
    if (!r.channels) throw new Error(r.errors.join('; '));
    const ch = createChannel(r.channels[0], {}, {});
    channels.push(ch);
    return ch;
  }

  async function received(transport: string, key: string): Promise<Line> {
    let line: Line | undefined;
    await waitFor(() => !!(line = read(path.join(dir, `${transport}.log`)).find((l) => l.sd.key === key)), 10_000, `${key} in rsyslog's ${transport}.log`);
    return line!;
  }

  const tricky = { message: 'telnet to "203.0.113.5" \\ [port] 23] done', peerName: 'odd]name"x' };

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    t.test(`${transport}: rsyslog parses header and structured data`, async (t) => {
      const url = transport === 'tls' ? `tls://localhost:${ports.tls}` : `${transport}://127.0.0.1:${ports[transport]}`;
      const ch = channel(url, transport === 'tls' ? { ca: certs.ca } : {});
      const a = alert({ ...tricky, id: `id-${transport}` });
      await ch.send(a);
      const l = await received(transport, a.key);
      t.equal(l.msgid, 'opened', 'MSGID is the event');
      t.equal(l.pri, 16 * 8 + 3, 'PRI: local0, high -> err');
      t.equal(l.app, 'segwatch');
      t.equal(l.host, 'segwatch-box');
      t.equal(l.procid, String(process.pid));
      for (const k of ANOMALY_FIELDS) t.equal(l.sd[k], String(a.anomaly[k]), `SD param ${k} as sent, escapes undone`);
      t.equal(l.sd.event, 'opened');
      t.match(l.msg, /HIGH protocol\.plaintext: plugs-a1b2c3 -> odd\]name"x \(203\.0\.113\.5\):23/);
    });
  }

  t.test('tcp: one connection for many messages, framing keeps them apart', async (t) => {
    const ch = channel(`tcp://127.0.0.1:${ports.tcp}`);
    const keys: string[] = [];
    for (let i = 0; i < 50; i++) {
      const a = alert({ id: `many-${i}`, message: `line one\nline two ${i}` });
      keys.push(a.key);
      await ch.send(a);
    }
    await waitFor(() => keys.every((k) => read(path.join(dir, 'tcp.log')).some((l) => l.sd.key === k)), 10_000, '50 messages');
    const got = read(path.join(dir, 'tcp.log')).filter((l) => l.sd.key?.startsWith('many-'));
    t.equal(got.length, 50, 'each message once, none split by its newline');
  });

  t.test('tls: the server certificate is verified and its name checked', async (t) => {
    const wrongCa = channel(`tls://localhost:${ports.tls}`, { ca: certs.otherCa, timeout: '3s' });
    t.match(await wrongCa.send(alert()).catch((e: unknown) => e), { retryable: false, code: 'tls_verify' }, 'untrusted CA');
    const wrongName = channel(`tls://127.0.0.1:${ports.tls}`, { ca: certs.ca, timeout: '3s' });
    t.match(await wrongName.send(alert()).catch((e: unknown) => e), { retryable: false, code: 'tls_verify' }, 'certificate for localhost, not 127.0.0.1');
  });

  t.test('rsyslog restarted: the send while it is down is retryable, then the channel reconnects', async (t) => {
    const tcp = channel(`tcp://127.0.0.1:${ports.tcp}`, { timeout: '2s' });
    const tls = channel(`tls://localhost:${ports.tls}`, { ca: certs.ca, timeout: '2s' });
    await tcp.send(alert({ id: 'before-tcp' }));
    await tls.send(alert({ id: 'before-tls' }));
    await rsyslog.stop();
    // the server's FIN reaches our sockets; the next send must not write into the dead connection
    await new Promise((r) => setTimeout(r, 200));
    t.match(await tcp.send(alert({ id: 'down' })).catch((e: unknown) => e), { retryable: true }, 'tcp: retryable while down');
    t.match(await tls.send(alert({ id: 'down' })).catch((e: unknown) => e), { retryable: true }, 'tls: retryable while down');
    await rsyslog.up();
    await tcp.send(alert({ id: 'after-tcp' }));
    await tls.send(alert({ id: 'after-tls' }));
    await received('tcp', 'after-tcp:opened');
    await received('tls', 'after-tls:opened');
    t.pass('delivered after the restart on a new connection');
  });
}
