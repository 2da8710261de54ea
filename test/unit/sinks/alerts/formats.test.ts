import t from 'tap';
import { webhookBody } from '../../../../collector/sinks/alerts/webhook.js';
import { slackBody, slackEscape } from '../../../../collector/sinks/alerts/slack.js';
import { discordBody, SEVERITY_COLOUR } from '../../../../collector/sinks/alerts/discord.js';
import { teamsBody } from '../../../../collector/sinks/alerts/teams.js';
import { ntfyBody, ntfyTarget } from '../../../../collector/sinks/alerts/ntfy.js';
import { mailSubject, mailText, messageId } from '../../../../collector/sinks/alerts/email-format.js';
import { discoveryPublications, eventPayload, nodeId } from '../../../../collector/sinks/alerts/mqtt-format.js';
import { headline } from '../../../../collector/sinks/alerts/text.js';
import { digestAlert } from '../../../../collector/sinks/alerts/channel.js';
import { redactUrl } from '../../../../collector/sinks/alerts/redact.js';
import { retryAfterMs } from '../../../../collector/sinks/alerts/http-channel.js';
import { ANOMALY_FIELDS } from '../../../../collector/sinks/anomaly-fields.js';
import { alert, anomaly } from './fixture.js';

const URL_ = new URL('https://hooks.example/x/secret');

t.test('headline', async (t) => {
  t.equal(headline(alert()), 'HIGH protocol.plaintext: plugs-a1b2c3 -> 203.0.113.5:23');
  t.equal(headline(alert({ peerName: 'cloud.example' }, 'closed')), 'closed: HIGH protocol.plaintext: plugs-a1b2c3 -> cloud.example (203.0.113.5):23');
  t.equal(headline(alert({ peer: 'fd00::1', peerPort: 443 })), 'HIGH protocol.plaintext: plugs-a1b2c3 -> [fd00::1]:443');
  t.equal(headline(alert({ peer: '', peerPort: 0, kind: 'device.new' })), 'HIGH device.new: plugs-a1b2c3');
});

t.test('webhook: DESIGN.md body with every Anomaly field', async (t) => {
  const b = webhookBody(alert()).body as { event: string; key: string; anomaly: Record<string, unknown> };
  t.equal(b.event, 'opened');
  t.equal(b.key, 'a1b2c3d4e5f60718:opened');
  t.same(Object.keys(b.anomaly), [...ANOMALY_FIELDS], 'every field, in order');
});

t.test('slack: text and blocks within Block Kit limits, mrkdwn escaped', async (t) => {
  const b = slackBody(alert({ message: '<!channel> & co', device: 'x'.repeat(200) })).body as { text: string; blocks: Array<Record<string, any>> };
  t.match(b.text, /&lt;!channel&gt; &amp; co/, 'no @channel injection');
  t.equal(b.blocks[0].type, 'header');
  t.ok(b.blocks[0].text.text.length <= 150);
  const fields = b.blocks.find((x) => x.fields)!.fields as unknown[];
  t.ok(fields.length <= 10);
  t.equal(slackEscape('a<b>&'), 'a&lt;b&gt;&amp;');
});

t.test('discord: embed coloured by severity, no mentions, wait=true', async (t) => {
  const p = discordBody(alert({ severity: 'critical' }), URL_);
  t.equal(new URL(p.url!).searchParams.get('wait'), 'true');
  const b = p.body as { content: string; allowed_mentions: unknown; embeds: Array<Record<string, any>> };
  t.same(b.allowed_mentions, { parse: [] });
  t.equal(b.embeds[0].color, SEVERITY_COLOUR.critical);
  t.ok(b.embeds[0].fields.length <= 25);
  t.match(b.embeds[0].footer.text, /a1b2c3d4e5f60718:opened/);
});

t.test('teams: message with an Adaptive Card 1.4 attachment', async (t) => {
  const b = teamsBody(alert()).body as any;
  t.equal(b.type, 'message');
  t.equal(b.attachments.length, 1);
  t.equal(b.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
  t.match(b.attachments[0].content, { type: 'AdaptiveCard', version: '1.4' });
  const facts = b.attachments[0].content.body.find((x: any) => x.type === 'FactSet').facts;
  t.ok(facts.some((f: any) => f.title === 'peerPort' && f.value === '23'));
});

t.test('ntfy: JSON publishing to the root with the topic', async (t) => {
  t.same(ntfyTarget(new URL('https://ntfy.sh/my-topic')), { root: 'https://ntfy.sh/', topic: 'my-topic' });
  t.same(ntfyTarget(new URL('https://x.lan/ntfy/alerts')), { root: 'https://x.lan/ntfy/', topic: 'alerts' });
  const p = ntfyBody(alert({ severity: 'critical' }), new URL('https://ntfy.sh/t1'));
  t.equal(p.url, 'https://ntfy.sh/');
  t.match(p.body, { topic: 't1', priority: 5, title: /^CRITICAL protocol.plaintext/, tags: ['rotating_light', 'protocol.plaintext', 'opened'] });
});

t.test('email: subject, body with advice, Message-ID from the key', async (t) => {
  t.equal(mailSubject(alert({ kind: 'policy.violation' })), '[segwatch] HIGH policy.violation: plugs-a1b2c3 -> 203.0.113.5:23');
  const body = mailText(alert());
  t.match(body, /What to do:\n  Telnet sends passwords in clear text: disable telnet on the device and change its factory password\./);
  for (const k of ['id', 'device', 'mac', 'peer', 'peerPort', 'count', 'rule']) t.match(body, new RegExp(`\\n  ${k} +\\S`), `field ${k}`);
  t.match(body, /idempotency key: a1b2c3d4e5f60718:opened/);
  t.equal(messageId('a1b2c3d4e5f60718:opened'), '<a1b2c3d4e5f60718.opened@segwatch>');
  t.equal(messageId('id:reminder:3'), '<id.reminder.3@segwatch>');
  t.equal(messageId('<x> y@z'), '<x.y.z@segwatch>', 'no angle bracket, space or @ survives');
  t.notMatch(mailSubject(alert({ device: 'a\r\nBcc: x@y' })), /[\r\n]/, 'no header injection');
});

t.test('digest: a summary anomaly every format renders', async (t) => {
  const d = digestAlert('digest-soc-1', { total: 57, lines: ['40 policy.violation from plugs-a1b2c3', '17 scan.hosts from cam'] }, 'high', Date.UTC(2026, 0, 1));
  t.equal(d.key, 'digest-soc-1:digest');
  t.equal(d.anomaly.count, 57);
  t.match(d.anomaly.message, /^and 57 more: 40 policy.violation from plugs-a1b2c3, 17 scan.hosts from cam$/);
  t.match(mailText(d), /  - 17 scan.hosts from cam/);
  t.match(JSON.stringify(slackBody(d).body), /17 scan.hosts from cam/);
  t.equal(discoveryPublications(d, 'homeassistant', '1'), undefined, 'no HA device for a digest');
});

t.test('mqtt: event JSON and Home Assistant discovery', async (t) => {
  t.match(JSON.parse(eventPayload(alert())), { event: 'opened', key: 'a1b2c3d4e5f60718:opened', anomaly: { device: 'plugs-a1b2c3' } });
  t.equal(nodeId('50:c7:bf:a1:b2:c3'), 'segwatch_50_c7_bf_a1_b2_c3');
  const d = discoveryPublications(alert(), 'homeassistant', '1.2.3')!;
  t.equal(d.config.topic, 'homeassistant/sensor/segwatch_plugs-a1b2c3/latest_anomaly/config');
  t.ok(d.config.retain && d.state.retain);
  const c = JSON.parse(d.config.payload);
  t.match(c, {
    unique_id: 'segwatch_plugs-a1b2c3_latest_anomaly', state_topic: d.state.topic, json_attributes_topic: d.state.topic,
    device: { identifiers: ['segwatch_plugs-a1b2c3'], name: 'plugs-a1b2c3', manufacturer: 'segwatch' }, origin: { name: 'segwatch', sw_version: '1.2.3' },
  });
  t.match(JSON.parse(d.state.payload), { kind: 'protocol.plaintext', key: 'a1b2c3d4e5f60718:opened' });
});

t.test('redaction and Retry-After', async (t) => {
  t.equal(redactUrl('https://hooks.slack.com/services/T0/B0/XXXX'), 'https://hooks.slack.com/…');
  t.equal(redactUrl('https://x.logic.azure.com:443/workflows/1?sig=abc'), 'https://x.logic.azure.com/…');
  t.equal(redactUrl('tls://siem.lan:6514'), 'tls://siem.lan:6514');
  t.equal(redactUrl('not a url'), '(invalid URL)');
  t.equal(retryAfterMs('7', 0), 7000);
  t.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
  t.equal(retryAfterMs(null, 0), undefined);
  t.equal(retryAfterMs('soon', 0), undefined);
  void anomaly;
});
