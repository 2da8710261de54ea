import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { parseAlertChannels, parseDuration } from '../../../../collector/sinks/alerts/config.js';
import { readSecret, secretVar } from '../../../../collector/sinks/alerts/secrets.js';

// DESIGN.md "Alert channels", verbatim
const DESIGN = parse(`
alerts:
  - name: soc                     # a channel's name, unique
    type: webhook                 # webhook | slack | discord | teams | ntfy | syslog | email | mqtt
    url: https://hooks.example/segwatch
    min_severity: high            # default medium
    kinds: [segment.crossing, device.spoof, scan.hosts]   # optional filter
  - { name: siem, type: syslog, url: "tls://siem.lan:6514" }    # udp:// tcp:// tls://, RFC 5424
  - { name: ha, type: mqtt, url: "mqtts://broker.lan:8883", topic: segwatch/anomalies }
  - { name: oncall, type: email, url: "smtp://mail.lan:587", from: segwatch@lan, to: [soc@lan] }
`).alerts;

t.test("DESIGN.md's example is accepted, with defaults", async (t) => {
  const r = parseAlertChannels(DESIGN, {});
  t.same(r.errors, []);
  const [soc, siem, ha, oncall] = r.channels!;
  t.match(soc, { name: 'soc', type: 'webhook', minSeverity: 'high', kinds: ['segment.crossing', 'device.spoof', 'scan.hosts'], closed: false, timeoutMs: 10000 });
  t.equal(soc.remindEveryMs, undefined, 'reminders are opt-in');
  t.match(siem, { type: 'syslog', minSeverity: 'medium', facility: 16, appName: 'segwatch' });
  t.match(ha, { type: 'mqtt', topic: 'segwatch/anomalies', protocolVersion: 4, discovery: true, discoveryPrefix: 'homeassistant' });
  t.match(oncall, { type: 'email', from: 'segwatch@lan', to: ['soc@lan'], tls: 'starttls' });
});

t.test('no alerts key: no channels', async (t) => {
  t.same(parseAlertChannels(undefined, {}), { channels: [], errors: [] });
});

t.test('opt-ins, durations and type keys', async (t) => {
  const r = parseAlertChannels([{ name: 'x', type: 'webhook', url: 'http://127.0.0.1:1/h', closed: true, remind_every: '4h', timeout: '2s', devices: ['plugs-*'] }], {});
  t.same(r.errors, []);
  t.match(r.channels![0], { closed: true, remindEveryMs: 4 * 3600_000, timeoutMs: 2000, devices: ['plugs-*'] });
  t.equal(parseDuration('1h30m'), 5_400_000);
  t.ok(Number.isNaN(parseDuration('soon')));
});

t.test('every error is reported with what was expected', async (t) => {
  const r = parseAlertChannels([
    { name: 'a', type: 'pager', url: 'https://x' },
    { name: 'b', type: 'webhook', url: 'https://x', min_severity: 'urgent', colour: 'red' },
    { type: 'webhook', url: 'https://x' },
  ], {});
  t.equal(r.channels, undefined);
  t.match(r.errors.join('\n'), /alerts\[0\] \(a\): type: expected a channel type: webhook, slack, discord, teams, ntfy, syslog, email, mqtt, got "pager"/);
  t.match(r.errors.join('\n'), /alerts\[1\] \(b\): min_severity: expected a severity: info, low, medium, high, critical, got "urgent"/);
  t.match(r.errors.join('\n'), /alerts\[1\] \(b\): colour: unknown key; expected one of: name, type, url/);
  t.match(r.errors.join('\n'), /alerts\[2\]: name: required/);
  t.equal(r.errors.length, 4);
});

t.test('checks beyond the schema, all at once', async (t) => {
  const r = parseAlertChannels([
    { name: 'm', type: 'mqtt', url: 'http://broker' },
    { name: 'e', type: 'email', url: 'smtp://mail.example:587', tls: 'none', topic: 'x' },
    { name: 's', type: 'syslog', url: 'tcp://siem:514', ca: '/etc/ca.pem' },
    { name: 'S', type: 'webhook', url: 'https://x', remind_every: '10s' },
    { name: 'c', type: 'mqtt', url: 'mqtts://b', topic: 'a/#', cert: '/c.pem' },
  ], {});
  const all = r.errors.join('\n');
  t.match(all, /alerts\[0\] \(m\): url: expected a mqtt:\/\/ or mqtts:\/\/ URL for type mqtt, got http:\/\//);
  t.match(all, /alerts\[0\] \(m\): topic: required for type mqtt/);
  t.match(all, /alerts\[1\] \(e\): topic: not a key of type email/);
  t.match(all, /alerts\[1\] \(e\): from: required/);
  t.match(all, /alerts\[1\] \(e\): to: required/);
  t.match(all, /alerts\[1\] \(e\): tls: "none" is accepted only for smtp:\/\/ to a loopback address/);
  t.match(all, /alerts\[2\] \(s\): ca\/cert\/key: only for an encrypted URL \(tls:\/\/\)/);
  t.match(all, /alerts\[3\] \(S\): name: not unique/, '"s" and "S" share their environment variables');
  t.match(all, /alerts\[3\] \(S\): remind_every: expected at least 1m/);
  t.match(all, /alerts\[4\] \(c\): topic: expected a topic without wildcards/);
  t.match(all, /alerts\[4\] \(c\): cert and key: give both/);
  const twice = parseAlertChannels([{ name: 'soc', type: 'webhook', url: 'https://x' }, { name: 'soc', type: 'webhook', url: 'https://y', kinds: ['Scan hosts'] }], {});
  t.match(twice.errors.join('\n'), /alerts\[1\] \(soc\): kinds\[0\]: expected an anomaly kind such as "scan.hosts", got "Scan hosts"/);
  const twice2 = parseAlertChannels([{ name: 'soc', type: 'webhook', url: 'https://x' }, { name: 'soc', type: 'webhook', url: 'https://y' }], {});
  t.match(twice2.errors.join('\n'), /alerts\[1\] \(soc\): name: not unique: "soc" is used twice/);
});

t.test('secrets: refused in the file and in URLs, with where to put them', async (t) => {
  const r = parseAlertChannels([
    { name: 'oncall', type: 'email', url: 'smtp://mail.lan:587', from: 'a@b', to: 'c@d', username: 'u', password: 'hunter2' },
    { name: 'ha-broker', type: 'mqtt', url: 'mqtts://user:hunter2@broker:8883', topic: 't' },
    { name: 'hook', type: 'webhook', url: 'https://x', token: 'abc' },
  ], {});
  const all = r.errors.join('\n');
  t.match(all, /alerts\[0\] \(oncall\): password: a secret in the config file is refused: put it in the environment \(SEGWATCH_ALERT_ONCALL_PASSWORD or \.\.\._FILE\)/);
  t.match(all, /alerts\[2\] \(hook\): token: a secret in the config file is refused: put it in the environment \(SEGWATCH_ALERT_HOOK_TOKEN/);
  t.notMatch(all, /hunter2|abc/, 'no secret is echoed');
  const r2 = parseAlertChannels([{ name: 'ha-broker', type: 'mqtt', url: 'mqtts://user:hunter2@broker:8883', topic: 't' }], {});
  t.match(r2.errors.join('\n'), /url: a password in the URL is refused: put it in SEGWATCH_ALERT_HA_BROKER_PASSWORD or SEGWATCH_ALERT_HA_BROKER_PASSWORD_FILE/);
  t.notMatch(r2.errors.join('\n'), /hunter2/);
});

t.test('secrets from the environment and from files', async (t) => {
  t.equal(secretVar('ha-broker.1', 'PASSWORD'), 'SEGWATCH_ALERT_HA_BROKER_1_PASSWORD');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segwatch-secret-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'pw'), 's3cret\n');
  t.equal(readSecret({ SEGWATCH_ALERT_X_PASSWORD_FILE: path.join(dir, 'pw') }, 'x', 'PASSWORD'), 's3cret', 'one trailing newline dropped');
  t.equal(readSecret({ SEGWATCH_ALERT_X_PASSWORD: 'p' }, 'x', 'PASSWORD'), 'p');
  t.equal(readSecret({}, 'x', 'PASSWORD'), undefined);
  t.throws(() => readSecret({ SEGWATCH_ALERT_X_TOKEN: 'a', SEGWATCH_ALERT_X_TOKEN_FILE: '/f' }, 'x', 'TOKEN'), /both set/);

  const email = { name: 'oncall', type: 'email', url: 'smtp://mail.lan:587', from: 'a@b', to: ['c@d'], username: 'segwatch' };
  t.match(parseAlertChannels([email], {}).errors.join(), /username: given without a password: set SEGWATCH_ALERT_ONCALL_PASSWORD/);
  t.same(parseAlertChannels([email], { SEGWATCH_ALERT_ONCALL_PASSWORD_FILE: path.join(dir, 'pw') }).errors, []);
  t.match(parseAlertChannels([email], { SEGWATCH_ALERT_ONCALL_PASSWORD_FILE: path.join(dir, 'missing') }).errors.join(), /SEGWATCH_ALERT_ONCALL_PASSWORD_FILE: cannot read .*missing: ENOENT/);

  // a Slack webhook URL is a secret: from _TOKEN instead of url, not both
  t.match(parseAlertChannels([{ name: 'chat', type: 'slack' }], {}).errors.join(), /url: required \(or the whole webhook URL in SEGWATCH_ALERT_CHAT_TOKEN/);
  const ok = parseAlertChannels([{ name: 'chat', type: 'slack' }], { SEGWATCH_ALERT_CHAT_TOKEN: 'https://hooks.slack.com/services/T/B/x' });
  t.same(ok.errors, []);
  t.equal(ok.channels![0].url, '', 'the secret URL is not copied into the config');
  t.match(parseAlertChannels([{ name: 'chat', type: 'slack', url: 'https://hooks.slack.com/services/T/B/x' }], { SEGWATCH_ALERT_CHAT_TOKEN: 'https://h' }).errors.join(), /url: given twice/);
});
