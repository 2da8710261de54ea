import t from 'tap';
import { CHANNELS, createChannel } from '../../../../collector/sinks/alerts/registry.js';
import { CHANNEL_TYPES, parseAlertChannels } from '../../../../collector/sinks/alerts/config.js';

t.test('one registry entry per channel type', async (t) => {
  t.same(Object.keys(CHANNELS).sort(), [...CHANNEL_TYPES].sort());
});

t.test('every type builds, connects nothing, and never shows a secret', async (t) => {
  const env = {
    SEGWATCH_ALERT_SLACK_TOKEN: 'https://hooks.slack.com/services/T0/B0/SECRETPATH',
    SEGWATCH_ALERT_MAIL_PASSWORD: 'SECRETPW', SEGWATCH_ALERT_HA_PASSWORD: 'SECRETPW', SEGWATCH_ALERT_HOOK_TOKEN: 'SECRETTOK',
  };
  const r = parseAlertChannels([
    { name: 'hook', type: 'webhook', url: 'https://hooks.example/SECRETPATH?sig=SECRETSIG' },
    { name: 'slack', type: 'slack' },
    { name: 'discord', type: 'discord', url: 'https://discord.com/api/webhooks/1/SECRETPATH' },
    { name: 'teams', type: 'teams', url: 'https://x.logic.azure.com/workflows/1?sig=SECRETSIG' },
    { name: 'ntfy', type: 'ntfy', url: 'https://ntfy.sh/SECRETPATH' },
    { name: 'siem', type: 'syslog', url: 'udp://127.0.0.1:514' },
    { name: 'mail', type: 'email', url: 'smtps://mail.lan', from: 'a@lan', to: 'b@lan', username: 'u' },
    { name: 'ha', type: 'mqtt', url: 'mqtt://broker.lan', topic: 't', username: 'u' },
  ], env);
  t.same(r.errors, []);
  for (const cfg of r.channels!) {
    const ch = createChannel(cfg, env);
    t.equal(ch.type, cfg.type);
    t.notMatch(String(ch), /SECRET/, `${cfg.type}: ${String(ch)}`);
    t.notMatch(JSON.stringify(ch), /SECRET/, `${cfg.type}: nothing secret in its JSON either`);
    await ch.close();
    t.match(await ch.send({ key: 'k', event: 'test', anomaly: {} as never }).catch((e: unknown) => e), { retryable: false, code: 'closed' });
  }
});
