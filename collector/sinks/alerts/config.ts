// The `alerts:` list of the config file: its schema (TypeBox, checked with ajv), the checks a
// schema cannot express (URL schemes per type, secrets, type-specific keys), and the normalised
// ChannelConfig each channel is built from. Every problem is reported, not only the first.

import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { SEVERITIES, type Severity } from '../../types.js';
import { readSecret, secretVar } from './secrets.js';

export const CHANNEL_TYPES = ['webhook', 'slack', 'discord', 'teams', 'ntfy', 'syslog', 'email', 'mqtt'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** syslog facilities by name (RFC 5424 table 1). */
export const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, audit: 13, alert: 14, clock: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const DURATION = '^([0-9]+(ms|s|m|h|d))+$';
const Duration = (what: string) => Type.String({ pattern: DURATION, description: `${what}: a duration such as "30s", "15m", "4h", "1d" or "1h30m"` });
const File = (what: string) => Type.String({ minLength: 1, description: `${what}: a path to a PEM file` });

export const ChannelSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'a channel name: letters, digits, "_", "." or "-", at most 64, unique' }),
  type: Type.Union(CHANNEL_TYPES.map((t) => Type.Literal(t)), { description: `a channel type: ${CHANNEL_TYPES.join(', ')}` }),
  url: Type.Optional(Type.String({ minLength: 1, description: 'the receiver\'s URL' })),
  min_severity: Type.Optional(Type.Union(SEVERITIES.map((s) => Type.Literal(s)), { description: `a severity: ${SEVERITIES.join(', ')}` })),
  // a pattern, not the list of kinds: a detector registered beside the bundled ones brings its own
  kinds: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z0-9-]+)+$', description: 'an anomaly kind such as "scan.hosts"' }), { minItems: 1, description: 'a list of anomaly kinds' })),
  devices: Type.Optional(Type.Array(Type.String({ minLength: 1, description: 'a device name glob' }), { minItems: 1, description: 'a list of device name globs ("plugs-*")' })),
  closed: Type.Optional(Type.Boolean({ description: 'true or false: also send when an anomaly closes' })),
  remind_every: Type.Optional(Duration('remind_every')),
  rate_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'alerts a minute before the rest are rolled into digests: a whole number from 1 to 100000' })),
  retry_max: Type.Optional(Duration('retry_max')),
  timeout: Type.Optional(Duration('timeout')),
  // type-specific
  topic: Type.Optional(Type.String({ minLength: 1, description: 'an MQTT topic without wildcards' })),
  from: Type.Optional(Type.String({ minLength: 3, description: 'a sender address' })),
  to: Type.Optional(Type.Union([Type.String({ minLength: 3 }), Type.Array(Type.String({ minLength: 3 }), { minItems: 1 })], { description: 'a recipient address or a list of them' })),
  username: Type.Optional(Type.String({ minLength: 1, description: 'a user name (the password only from the environment)' })),
  tls: Type.Optional(Type.Union([Type.Literal('starttls'), Type.Literal('none')], { description: '"starttls" (the default of smtp://) or "none" (loopback only, for tests)' })),
  ca: Type.Optional(File('ca')),
  cert: Type.Optional(File('cert')),
  key: Type.Optional(File('key')),
  protocol_version: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(5)], { description: 'an MQTT protocol version: 4 (3.1.1) or 5' })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 23, description: 'an MQTT client id, at most 23 characters' })),
  discovery: Type.Optional(Type.Boolean({ description: 'true or false: publish Home Assistant MQTT discovery' })),
  discovery_prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', description: 'an MQTT topic prefix, e.g. "homeassistant"' })),
  facility: Type.Optional(Type.Union(Object.keys(FACILITIES).map((f) => Type.Literal(f)), { description: `a syslog facility: ${Object.keys(FACILITIES).join(', ')}` })),
  app_name: Type.Optional(Type.String({ pattern: '^[!-~]{1,48}$', description: 'a syslog APP-NAME: 1 to 48 printable ASCII characters' })),
  hostname: Type.Optional(Type.String({ pattern: '^[!-~]{1,255}$', description: 'a syslog HOSTNAME: printable ASCII, no space' })),
}, { additionalProperties: false, description: 'an alert channel' });

export const AlertsSchema = Type.Array(ChannelSchema, { description: 'a list of alert channels' });

type RawChannel = Static<typeof ChannelSchema>;

/** Keys that only some types take; every other key is common. */
const TYPE_KEYS: Record<ChannelType, readonly (keyof RawChannel)[]> = {
  webhook: [],
  slack: [],
  discord: [],
  teams: [],
  ntfy: ['username'],
  syslog: ['facility', 'app_name', 'hostname', 'ca', 'cert', 'key'],
  email: ['from', 'to', 'username', 'tls', 'ca'],
  mqtt: ['topic', 'username', 'protocol_version', 'client_id', 'ca', 'cert', 'key', 'discovery', 'discovery_prefix'],
};
const SPECIFIC = new Set(Object.values(TYPE_KEYS).flat());

const SCHEMES: Record<ChannelType, readonly string[]> = {
  webhook: ['http:', 'https:'], slack: ['http:', 'https:'], discord: ['http:', 'https:'],
  teams: ['http:', 'https:'], ntfy: ['http:', 'https:'], syslog: ['udp:', 'tcp:', 'tls:'],
  email: ['smtp:', 'smtps:'], mqtt: ['mqtt:', 'mqtts:'],
};

/**
 * Slack, Discord and Teams webhook URLs are secrets in themselves (the path is the credential):
 * they may come whole from SEGWATCH_ALERT_<NAME>_TOKEN[_FILE] instead of `url`.
 */
export const URL_IS_SECRET: ReadonlySet<ChannelType> = new Set(['slack', 'discord', 'teams']);

/** One channel, validated and normalised (camelCase, defaults applied, durations in ms). No secret is held here. */
export interface ChannelConfig {
  name: string;
  type: ChannelType;
  /** '' for slack/discord/teams whose URL comes from SEGWATCH_ALERT_<NAME>_TOKEN. */
  url: string;
  minSeverity: Severity;
  kinds?: string[];
  devices?: string[];
  /** send closings too (opt-in). */
  closed: boolean;
  /** remind about an anomaly still open every so many ms (opt-in), undefined when off. */
  remindEveryMs?: number;
  /** per delivery, ms (default 10 s). */
  timeoutMs: number;
  /** alerts a minute; beyond it they are rolled into digests (default 20). */
  rateLimitPerMin: number;
  /** the longest wait between two tries of an undelivered alert, ms (default 5 min). */
  retryMaxMs: number;
  topic?: string;
  from?: string;
  to?: string[];
  username?: string;
  /** email over smtp://: STARTTLS required unless 'none' (accepted for a loopback host only). */
  tls?: 'starttls' | 'none';
  ca?: string;
  cert?: string;
  key?: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  discovery?: boolean;
  discoveryPrefix?: string;
  /** syslog facility number (default local0 = 16). */
  facility?: number;
  appName?: string;
  hostname?: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** "1h30m" to ms; NaN when it is not one. */
export function parseDuration(s: string): number {
  if (!new RegExp(DURATION).test(s)) return NaN;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let ms = 0;
  for (const m of s.matchAll(/([0-9]+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * unit[m[2]];
  return ms;
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator() {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true }).compile(AlertsSchema);
  return compiled;
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** "alerts[2] (siem)" for messages. */
function where(raw: unknown, i: number): string {
  const name = Array.isArray(raw) ? (raw[i] as { name?: unknown } | undefined)?.name : undefined;
  return typeof name === 'string' ? `alerts[${i}] (${name})` : `alerts[${i}]`;
}

function schemaMessages(raw: unknown, errs: ErrorObject[]): string[] {
  const out = new Set<string>();
  const unions = errs.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  for (const e of errs) {
    // a union's branch errors: the anyOf error says what was expected
    if (e.keyword !== 'anyOf' && unions.some((p) => e.instancePath === p || e.instancePath.startsWith(p + '/'))) continue;
    const segs = e.instancePath.split('/').slice(1);
    const at = segs.length ? where(raw, Number(segs[0])) : 'alerts';
    const key = segs.slice(1).map((s) => (/^\d+$/.test(s) ? `[${s}]` : s)).join('.').replace(/\.\[/g, '[');
    let value: unknown = raw;
    for (const s of segs) value = (value as Record<string, unknown> | undefined)?.[s];
    const desc = (e.parentSchema as { description?: string } | undefined)?.description ?? 'a valid value';
    let msg: string;
    if (e.keyword === 'additionalProperties') {
      const k = (e.params as { additionalProperty: string }).additionalProperty;
      msg = k === 'password' || k === 'token'
        ? `${k}: a secret in the config file is refused: put it in the environment (${secretVar(String((value as { name?: unknown })?.name ?? 'NAME'), k === 'password' ? 'PASSWORD' : 'TOKEN')} or ..._FILE)`
        : `${k}: unknown key; expected one of: ${Object.keys(ChannelSchema.properties).join(', ')}`;
      out.add(`${at}: ${msg}`);
      continue;
    }
    if (e.keyword === 'required') msg = `${(e.params as { missingProperty: string }).missingProperty}: required`;
    else msg = `${key ? key + ': ' : ''}expected ${desc}, got ${show(value)}`;
    out.add(`${at}: ${msg}`);
  }
  return [...out];
}

const LOOPBACK = /^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$/i;

/**
 * Validates the config file's `alerts:` value (undefined: no channels) and reads nothing but
 * the secrets' presence: every error, each with the channel and what was expected.
 * @returns `channels` only when there is no error.
 */
export function parseAlertChannels(raw: unknown, env: NodeJS.ProcessEnv): { channels?: ChannelConfig[]; errors: string[] } {
  if (raw === undefined || raw === null) return { channels: [], errors: [] };
  const validate = validator();
  if (!validate(raw)) return { errors: schemaMessages(raw, validate.errors ?? []) };
  const list = raw as RawChannel[];
  const errors: string[] = [];
  const channels: ChannelConfig[] = [];
  const names = new Map<string, string>();
  list.forEach((c, i) => {
    const at = where(raw, i);
    const bad = (m: string) => errors.push(`${at}: ${m}`);
    const norm = secretVar(c.name, 'TOKEN');
    const other = names.get(norm);
    if (other === c.name) bad(`name: not unique: "${c.name}" is used twice`);
    else if (other !== undefined) bad(`name: not unique: "${other}" reads the same environment variables (${norm})`);
    names.set(norm, c.name);
    for (const k of Object.keys(c) as (keyof RawChannel)[]) {
      if (SPECIFIC.has(k) && !TYPE_KEYS[c.type].includes(k)) bad(`${k}: not a key of type ${c.type}${TYPE_KEYS[c.type].length ? ` (its own keys: ${TYPE_KEYS[c.type].join(', ')})` : ''}`);
    }
    let password: string | undefined, token: string | undefined;
    try { password = readSecret(env, c.name, 'PASSWORD'); } catch (err) { bad((err as Error).message); }
    try { token = readSecret(env, c.name, 'TOKEN'); } catch (err) { bad((err as Error).message); }

    let url: URL | undefined;
    if (c.url === undefined) {
      if (!(URL_IS_SECRET.has(c.type) && token)) bad(`url: required${URL_IS_SECRET.has(c.type) ? ` (or the whole webhook URL in ${secretVar(c.name, 'TOKEN')} or ..._FILE)` : ''}`);
    } else {
      try {
        url = new URL(c.url);
      } catch {
        bad(`url: expected a URL such as ${exampleUrl(c.type)}, got a text that is not one`);
      }
      if (url) {
        if (!SCHEMES[c.type].includes(url.protocol)) bad(`url: expected a ${SCHEMES[c.type].map((s) => s + '//').join(' or ')} URL for type ${c.type}, got ${url.protocol}//`);
        if (url.password) bad(`url: a password in the URL is refused: put it in ${secretVar(c.name, 'PASSWORD')} or ${secretVar(c.name, 'PASSWORD')}_FILE`);
        else if (url.username) bad(`url: a user name in the URL is refused: use "username:" (and ${secretVar(c.name, 'PASSWORD')} for the password)`);
        if (URL_IS_SECRET.has(c.type) && token) bad(`url: given twice: in the config file and in ${secretVar(c.name, 'TOKEN')}; keep one (the environment keeps it out of the file)`);
        if (['syslog', 'email', 'mqtt'].includes(c.type) && !url.hostname) bad(`url: names no host, e.g. ${exampleUrl(c.type)}`);
      }
    }

    if (c.type === 'mqtt' && !c.topic) bad('topic: required for type mqtt, e.g. segwatch/anomalies');
    if (c.topic && /[#+\u0000]/.test(c.topic)) bad(`topic: expected a topic without wildcards (# +), got ${show(c.topic)}`);
    if (c.type === 'email') {
      if (!c.from) bad('from: required for type email, e.g. segwatch@lan');
      if (!c.to) bad('to: required for type email, e.g. [soc@lan]');
      if (c.tls === 'none' && url && (url.protocol !== 'smtp:' || !LOOPBACK.test(url.hostname))) bad('tls: "none" is accepted only for smtp:// to a loopback address (tests): mail to another host must be encrypted');
    }
    if ((c.type === 'email' || c.type === 'mqtt' || c.type === 'ntfy') && c.username && !password) bad(`username: given without a password: set ${secretVar(c.name, 'PASSWORD')} or ${secretVar(c.name, 'PASSWORD')}_FILE`);
    if (password && !c.username && c.type !== 'mqtt') bad(`${secretVar(c.name, 'PASSWORD')}: set, but "username:" is missing`);
    if ((c.cert === undefined) !== (c.key === undefined)) bad('cert and key: give both (a client certificate and its key) or neither');
    if ((c.ca || c.cert) && url && !['tls:', 'mqtts:', 'smtp:', 'smtps:'].includes(url.protocol)) bad(`ca/cert/key: only for an encrypted URL (${c.type === 'syslog' ? 'tls://' : 'mqtts://'})`);
    const remind = c.remind_every === undefined ? undefined : parseDuration(c.remind_every);
    if (remind !== undefined && remind < 60_000) bad(`remind_every: expected at least 1m, got ${show(c.remind_every)}`);
    const timeout = c.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(c.timeout);
    if (timeout < 100 || timeout > 300_000) bad(`timeout: expected between 100ms and 5m, got ${show(c.timeout)}`);

    const retryMax = c.retry_max === undefined ? 300_000 : parseDuration(c.retry_max);
    if (retryMax < 1000 || retryMax > 86_400_000) bad(`retry_max: expected between 1s and 1d, got ${show(c.retry_max)}`);
    const cfg: ChannelConfig = {
      name: c.name, type: c.type, url: c.url ?? '', minSeverity: c.min_severity ?? 'medium',
      closed: c.closed ?? false, timeoutMs: timeout, rateLimitPerMin: c.rate_limit ?? 20, retryMaxMs: retryMax,
    };
    if (c.kinds) cfg.kinds = c.kinds;
    if (c.devices) cfg.devices = c.devices;
    if (remind !== undefined) cfg.remindEveryMs = remind;
    if (c.topic) cfg.topic = c.topic;
    if (c.from) cfg.from = c.from;
    if (c.to) cfg.to = Array.isArray(c.to) ? c.to : [c.to];
    if (c.username) cfg.username = c.username;
    if (c.type === 'email') cfg.tls = c.tls ?? 'starttls';
    if (c.ca) cfg.ca = c.ca;
    if (c.cert) cfg.cert = c.cert;
    if (c.key) cfg.key = c.key;
    if (c.type === 'mqtt') {
      cfg.protocolVersion = c.protocol_version ?? 4;
      cfg.discovery = c.discovery ?? true;
      cfg.discoveryPrefix = c.discovery_prefix ?? 'homeassistant';
      if (c.client_id) cfg.clientId = c.client_id;
    }
    if (c.type === 'syslog') {
      cfg.facility = FACILITIES[c.facility ?? 'local0'];
      cfg.appName = c.app_name ?? 'segwatch';
      if (c.hostname) cfg.hostname = c.hostname;
    }
    channels.push(cfg);
  });
  return errors.length ? { errors } : { channels, errors };
}

function exampleUrl(t: ChannelType): string {
  switch (t) {
    case 'syslog': return 'tls://siem.lan:6514';
    case 'email': return 'smtp://mail.lan:587';
    case 'mqtt': return 'mqtts://broker.lan:8883';
    case 'ntfy': return 'https://ntfy.sh/my-topic';
    default: return 'https://hooks.example/segwatch';
  }
}
