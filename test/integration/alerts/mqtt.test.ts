// The MQTT channel against a real mosquitto started here on loopback: MQTT 3.1.1 and 5, plain
// and TLS (certificates made with openssl), user and password, QoS 1, Home Assistant discovery
// read back as retained messages, and a broker stopped and started again.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import mqtt from 'mqtt';
import { parseAlertChannels } from '../../../collector/sinks/alerts/config.js';
import { createChannel } from '../../../collector/sinks/alerts/registry.js';
import type { Channel } from '../../../collector/sinks/alerts/channel.js';
import { ANOMALY_FIELDS } from '../../../collector/sinks/anomaly-fields.js';
import { alert } from '../../unit/sinks/alerts/fixture.js';
import { available, Daemon, launch, makeCerts, tmpDir, waitFor, type Certs } from './util.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

if (!available(MOSQUITTO)) {
  t.fail('mosquitto (Debian package mosquitto) is required for this test');
} else {
  const tmp = tmpDir('segwatch-mqtt-');
  const dir = tmp.dir;
  let certs: Certs;
  let plainPort = 0;
  let tlsPort = 0;
  let broker: Daemon;
  const channels: Channel[] = [];
  const clients: mqtt.MqttClient[] = [];

  t.before(async () => {
    certs = makeCerts(dir);
    execFileSync('mosquitto_passwd', ['-b', '-c', path.join(dir, 'passwd'), 'segwatch', 'pw'], { stdio: 'pipe', timeout: 10_000 });
    // mosquitto drops root for the "mosquitto" user: let it read the temp dir
    fs.chmodSync(dir, 0o755);
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
    ({ daemon: broker, ports: [plainPort, tlsPort] } = await launch(2, ([plain, tls]) => {
      fs.writeFileSync(path.join(dir, 'mosquitto.conf'), [
        'per_listener_settings false', 'allow_anonymous false', `password_file ${dir}/passwd`, 'persistence false',
        'log_dest stderr', 'log_type error', 'log_type warning',
        `listener ${plain} 127.0.0.1`,
        `listener ${tls} 127.0.0.1`, `cafile ${certs.ca}`, `certfile ${certs.cert}`, `keyfile ${certs.key}`, '',
      ].join('\n'));
      return new Daemon(MOSQUITTO, ['-c', path.join(dir, 'mosquitto.conf')], [plain, tls]);
    }));
  });
  t.teardown(async () => {
    for (const c of channels) await c.close();
    for (const c of clients) await c.endAsync(true);
    await broker?.stop();
    tmp.remove();
  });

  function channel(url: string, extra: Record<string, unknown> = {}, password = 'pw'): Channel {
    const env = { SEGWATCH_ALERT_HA_PASSWORD: password };
    const r = parseAlertChannels([{ name: 'ha', type: 'mqtt', url, topic: 'segwatch/anomalies', username: 'segwatch', timeout: '3s', ...extra }], env);
    if (!r.channels) throw new Error(r.errors.join('; '));
    const ch = createChannel(r.channels[0], env, { version: '1.2.3' });
    channels.push(ch);
    return ch;
  }

  /** A subscriber of our own; resolves once SUBACKed. Collects [topic, payload, retain]. */
  async function subscribe(filter: string): Promise<Array<{ topic: string; payload: any; retain: boolean }>> {
    const got: Array<{ topic: string; payload: any; retain: boolean }> = [];
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: plainPort, username: 'segwatch', password: 'pw', reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    c.on('message', (topic, payload, packet) => { got.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain }); });
    await c.subscribeAsync(filter, { qos: 1 });
    return got;
  }

  for (const [label, version, tls] of [['3.1.1 plain', 4, false], ['5 over TLS', 5, true]] as const) {
    t.test(`MQTT ${label}: the event as JSON at QoS 1, with its key`, async (t) => {
      const got = await subscribe('segwatch/anomalies');
      const url = tls ? `mqtts://localhost:${tlsPort}` : `mqtt://127.0.0.1:${plainPort}`;
      const ch = channel(url, { protocol_version: version, discovery: false, ...(tls ? { ca: certs.ca } : {}) });
      const a = alert({ id: `v${version}` });
      await ch.send(a);
      await waitFor(() => got.length > 0, 5000, 'the event at the subscriber');
      t.equal(got[0].payload.key, `v${version}:opened`);
      t.equal(got[0].payload.event, 'opened');
      t.same(Object.keys(got[0].payload.anomaly), [...ANOMALY_FIELDS]);
      t.notOk(got[0].retain, 'events are not retained');
    });
  }

  t.test('Home Assistant discovery: retained config and state per device', async (t) => {
    const ch = channel(`mqtt://127.0.0.1:${plainPort}`);
    await ch.send(alert({ id: 'ha1', device: 'plugs-a1b2c3' }));
    await ch.send(alert({ id: 'ha2', device: 'doorbell', kind: 'dns.bypass', peerPort: 53 }));
    await ch.send(alert({ id: 'ha3', device: 'doorbell', kind: 'scan.hosts' }));
    // a subscriber arriving later (Home Assistant after a restart) gets the retained messages
    const got = await subscribe('homeassistant/#');
    await waitFor(() => got.length >= 4, 5000, 'two configs and two states');
    const byTopic = new Map(got.map((m) => [m.topic, m]));
    const cfg = byTopic.get('homeassistant/sensor/segwatch_doorbell/latest_anomaly/config');
    t.ok(cfg?.retain, 'config retained');
    t.match(cfg?.payload, {
      unique_id: 'segwatch_doorbell_latest_anomaly', name: 'Latest anomaly',
      state_topic: 'homeassistant/sensor/segwatch_doorbell/latest_anomaly/state',
      json_attributes_topic: 'homeassistant/sensor/segwatch_doorbell/latest_anomaly/state',
      device: { identifiers: ['segwatch_doorbell'], name: 'doorbell', manufacturer: 'segwatch' },
      origin: { name: 'segwatch', sw_version: '1.2.3' },
    });
    const state = byTopic.get('homeassistant/sensor/segwatch_doorbell/latest_anomaly/state');
    t.ok(state?.retain);
    t.match(state?.payload, { kind: 'scan.hosts', key: 'ha3:opened' }, 'the latest anomaly of the device');
    t.ok(byTopic.has('homeassistant/sensor/segwatch_plugs-a1b2c3/latest_anomaly/config'));
  });

  t.test('a wrong password is final; an untrusted broker certificate too', async (t) => {
    const bad = channel(`mqtt://127.0.0.1:${plainPort}`, { timeout: '1s' }, 'nope');
    t.match(await bad.send(alert()).catch((e: unknown) => e), { retryable: false, code: 'auth' });
    const untrusted = channel(`mqtts://localhost:${tlsPort}`, { timeout: '1s', ca: certs.otherCa });
    t.match(await untrusted.send(alert()).catch((e: unknown) => e), { retryable: false, code: 'tls_verify' });
  });

  t.test('broker stopped: retryable within the timeout; started again: delivered', async (t) => {
    const ch = channel(`mqtt://127.0.0.1:${plainPort}`, { timeout: '1s', discovery: false });
    await ch.send(alert({ id: 'up' }));
    await broker.stop();
    const start = Date.now();
    t.match(await ch.send(alert({ id: 'down' })).catch((e: unknown) => e), { retryable: true });
    t.ok(Date.now() - start < 3000, 'bounded');
    await broker.up();
    const got = await subscribe('segwatch/anomalies');
    // the channel reconnects by itself (every 2 s); a send waits up to its timeout for it
    await waitFor(async () => { try { await ch.send(alert({ id: 'back' })); return true; } catch { return false; } }, 10_000, 'a send after the restart');
    await waitFor(() => got.some((m) => m.payload.key === 'back:opened'), 5000, 'the event after the restart');
    t.notOk(got.some((m) => m.payload.key === 'down:opened'), 'the failed send was not queued behind the outbox\'s back');
  });
}
