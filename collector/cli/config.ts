// The long-running collector's settings: flags over SEGWATCH_* environment variables over
// the config file over defaults. The whole set is validated before anything starts and
// every problem is reported at once, each with where the value came from.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, LineCounter, isMap, isScalar, type Node } from 'yaml';
import { parseListen, apiTokenFromEnv } from '../api/server.js';
import { apiAdminTokenFromEnv, checkAdminToken } from '../api/server.js';
import { parseAlertChannels, type ChannelConfig } from '../sinks/alerts/config.js';
import { parseFlowListen } from '../sources/flow-export-udp.js';
import { isIP } from 'node:net';
import { parseDuration } from '../policy/validate.js';

export interface RunConfig {
  policy: string;
  interface?: string;
  capture?: string;
  /** the BPF filter: "auto", an expression, or absent; filter (its older name) folds into it. */
  bpf?: string;
  filter?: string;
  snaplen: number;
  promisc: boolean;
  bufferSizeMb: number;
  influx?: string;
  influxUsername?: string;
  spoolDir: string;
  spoolMaxBytes: number;
  stateDir: string;
  out?: string;
  listen?: string;
  host: string;
  logLevel: string;
  apiTlsCert?: string;
  apiTlsKey?: string;
  apiRateLimit: number;
  apiMaxBodyBytes: number;
  /** the alert channels (the config file's `alerts:` list); empty when none. */
  alerts: ChannelConfig[];
  alertOutboxMax: number;
  alertOutboxMaxDays: number;
  degradedSilenceS: number;
  degradedSpoolS: number;
  degradedAlertsS: number;
  /** run --learn-for: ms an unlisted (or `profile: learn`) device is learned before its profile is enforced; absent: off. */
  learnForMs?: number;
  /** NetFlow/IPFIX listeners, `[ADDR:]PORT` each (both names take every version). */
  netflow: string[];
  ipfix: string[];
  /** exporter addresses allowed to send; empty: any. */
  netflowExporters: string[];
  /** per exporter address, the ifIndexes whose records are kept. */
  netflowInterfaces: Record<string, number[]>;
  netflowRcvbufMb: number;
  /** nice added to the judging (main) thread once live capture or NetFlow threads run; 0: none. */
  judgeNice: number;
  /** MUD (RFC 8520): hosts MUD files may be fetched from; empty: none is fetched */
  mudTrustedHosts: string[];
  /** a local folder of MUD files (offline sites) */
  mudDir?: string;
  /** PEM bundle MUD signatures must chain to; default the system CA store */
  mudTrustAnchors?: string;
}

type Kind = 'string' | 'int' | 'bool' | 'level' | 'list' | 'listen-list' | 'address-list' | 'host-list' | 'ifindex-map' | 'duration';
interface KeyDef { key: keyof RunConfig; file: string; flag: string; env: string; kind: Kind; min?: number; max?: number; help: string }

/** One definition per setting: its config-file key (`mud.dir` is `dir:` under `mud:`), flag and environment variable. */
export const SETTINGS: KeyDef[] = [
  { key: 'policy', file: 'policy', flag: 'policy', env: 'SEGWATCH_POLICY', kind: 'string', help: 'the site policy (YAML); reloaded on change and on SIGHUP' },
  { key: 'interface', file: 'interface', flag: 'interface', env: 'SEGWATCH_INTERFACE', kind: 'string', help: 'capture live on this interface (needs CAP_NET_RAW)' },
  { key: 'capture', file: 'capture', flag: 'capture', env: 'SEGWATCH_CAPTURE', kind: 'string', help: 'read this capture file instead of an interface, then stop' },
  { key: 'bpf', file: 'bpf', flag: 'bpf', env: 'SEGWATCH_BPF', kind: 'string', help: 'BPF filter for live capture: "auto" for the one the policy implies (its VLAN, watched segments, ARP, ND, DHCP; `run --print-bpf` shows it), or a libpcap expression' },
  { key: 'filter', file: 'filter', flag: 'filter', env: 'SEGWATCH_FILTER', kind: 'string', help: 'the older name of --bpf' },
  { key: 'snaplen', file: 'snaplen', flag: 'snaplen', env: 'SEGWATCH_SNAPLEN', kind: 'int', min: 64, max: 262144, help: 'bytes captured per packet' },
  { key: 'promisc', file: 'promisc', flag: 'promisc', env: 'SEGWATCH_PROMISC', kind: 'bool', help: 'promiscuous mode, needed on a mirror port (turn off with promisc: false or SEGWATCH_PROMISC=false)' },
  { key: 'bufferSizeMb', file: 'buffer_size_mb', flag: 'buffer-size-mb', env: 'SEGWATCH_BUFFER_SIZE_MB', kind: 'int', min: 1, max: 2048, help: 'kernel capture buffer, MB' },
  { key: 'influx', file: 'influx', flag: 'influx', env: 'SEGWATCH_INFLUX_URL', kind: 'string', help: 'InfluxDB URL with database, e.g. http://127.0.0.1:8086/segwatch' },
  { key: 'influxUsername', file: 'influx_username', flag: 'influx-username', env: 'SEGWATCH_INFLUX_USERNAME', kind: 'string', help: 'InfluxDB user (password only from SEGWATCH_INFLUX_PASSWORD[_FILE])' },
  { key: 'spoolDir', file: 'spool_dir', flag: 'spool-dir', env: 'SEGWATCH_SPOOL_DIR', kind: 'string', help: 'where points wait while InfluxDB is unreachable; default STATE_DIR/spool' },
  { key: 'spoolMaxBytes', file: 'spool_max_bytes', flag: 'spool-max-bytes', env: 'SEGWATCH_SPOOL_MAX_BYTES', kind: 'int', min: 1024, help: 'spool size bound, bytes' },
  { key: 'stateDir', file: 'state_dir', flag: 'state-dir', env: 'SEGWATCH_STATE_DIR', kind: 'string', help: 'what must survive a restart: devices, open anomalies (SQLite)' },
  { key: 'out', file: 'out', flag: 'out', env: 'SEGWATCH_OUT', kind: 'string', help: 'append anomalies as JSON lines to this file' },
  { key: 'listen', file: 'listen', flag: 'listen', env: 'SEGWATCH_LISTEN', kind: 'string', help: 'serve the API (REST, /metrics) on ADDRESS:PORT; needs SEGWATCH_API_TOKEN; loopback unless told otherwise' },
  { key: 'host', file: 'host', flag: 'host', env: 'SEGWATCH_HOST', kind: 'string', help: 'host tag of the collector measurement' },
  { key: 'alertOutboxMax', file: 'alert_outbox_max', flag: 'alert-outbox-max', env: 'SEGWATCH_ALERT_OUTBOX_MAX', kind: 'int', min: 100, help: 'alerts waiting for delivery, at most (then the oldest low-severity ones go)' },
  { key: 'alertOutboxMaxDays', file: 'alert_outbox_max_days', flag: 'alert-outbox-max-days', env: 'SEGWATCH_ALERT_OUTBOX_MAX_DAYS', kind: 'int', min: 1, max: 365, help: 'days an undelivered alert waits before it is dropped' },
  { key: 'degradedSilenceS', file: 'degraded_silence', flag: 'degraded-silence', env: 'SEGWATCH_DEGRADED_SILENCE', kind: 'int', min: 10, help: 'seconds without a packet or flow record before collector.degraded' },
  { key: 'degradedSpoolS', file: 'degraded_spool', flag: 'degraded-spool', env: 'SEGWATCH_DEGRADED_SPOOL', kind: 'int', min: 10, help: 'seconds the InfluxDB spool may keep growing before collector.degraded' },
  { key: 'learnForMs', file: 'learn_for', flag: 'learn-for', env: 'SEGWATCH_LEARN_FOR', kind: 'duration', help: 'learn each unlisted device (or one whose entry says profile: learn) for this long, e.g. 7d, holding back its policy.violation, volume.limit and device.new; then enforce what it learned (proposals in the API and <state_dir>/proposals/)' },
  { key: 'degradedAlertsS', file: 'degraded_alerts', flag: 'degraded-alerts', env: 'SEGWATCH_DEGRADED_ALERTS', kind: 'int', min: 10, help: 'seconds an alert channel may fail every delivery before collector.degraded' },
  { key: 'logLevel', file: 'log_level', flag: 'log-level', env: 'SEGWATCH_LOG_LEVEL', kind: 'level', help: 'trace, debug, info, warn, error' },
  { key: 'apiTlsCert', file: 'api_tls_cert', flag: 'api-tls-cert', env: 'SEGWATCH_API_TLS_CERT', kind: 'string', help: 'serve the API over HTTPS with this certificate chain (PEM file); needs api_tls_key' },
  { key: 'apiTlsKey', file: 'api_tls_key', flag: 'api-tls-key', env: 'SEGWATCH_API_TLS_KEY', kind: 'string', help: 'the private key (PEM file) of api_tls_cert' },
  { key: 'apiRateLimit', file: 'api_rate_limit', flag: 'api-rate-limit', env: 'SEGWATCH_API_RATE_LIMIT', kind: 'int', min: 0, max: 1_000_000, help: 'API requests per client address per minute, beyond which it answers 429; 0: no limit' },
  { key: 'netflow', file: 'netflow', flag: 'netflow', env: 'SEGWATCH_NETFLOW', kind: 'listen-list', help: 'receive NetFlow v5/v9 (and IPFIX) on [ADDR:]PORT; loopback unless an address is given (0.0.0.0:2055, [::]:2055); repeat the flag or separate with commas' },
  { key: 'ipfix', file: 'ipfix', flag: 'ipfix', env: 'SEGWATCH_IPFIX', kind: 'listen-list', help: 'receive IPFIX (and NetFlow) on [ADDR:]PORT, e.g. 4739; as --netflow' },
  { key: 'netflowExporters', file: 'netflow_exporters', flag: 'netflow-exporters', env: 'SEGWATCH_NETFLOW_EXPORTERS', kind: 'address-list', help: 'only these exporter addresses may send (comma-separated); datagrams from others are counted and dropped' },
  { key: 'netflowInterfaces', file: 'netflow_interfaces', flag: 'netflow-interfaces', env: 'SEGWATCH_NETFLOW_INTERFACES', kind: 'ifindex-map', help: 'per exporter, the ifIndexes to keep: EXPORTER=IF,IF;EXPORTER=IF (config file: a mapping of address to list); records with neither interface listed are dropped' },
  { key: 'netflowRcvbufMb', file: 'netflow_rcvbuf_mb', flag: 'netflow-rcvbuf-mb', env: 'SEGWATCH_NETFLOW_RCVBUF_MB', kind: 'int', min: 1, max: 1024, help: 'UDP receive buffer asked of the kernel per NetFlow/IPFIX socket, MB (capped by net.core.rmem_max)' },
  { key: 'judgeNice', file: 'judge_nice', flag: 'judge-nice', env: 'SEGWATCH_JUDGE_NICE', kind: 'int', min: 0, max: 19, help: 'how much lower (nice) the judging thread runs than the capture and NetFlow/IPFIX receiver threads, so they empty the kernel\'s buffers first and a burst waits in segwatch\'s queue instead of being dropped; 0: the same' },
  { key: 'mudTrustedHosts', file: 'mud.trusted_hosts', flag: 'mud-trusted-hosts', env: 'SEGWATCH_MUD_TRUSTED_HOSTS', kind: 'host-list', help: 'MUD files are fetched only from these hosts (exact names, comma-separated), over HTTPS, from public addresses' },
  { key: 'mudDir', file: 'mud.dir', flag: 'mud-dir', env: 'SEGWATCH_MUD_DIR', kind: 'string', help: 'a local folder of MUD files, named by the MUD URL\'s last path segment (offline sites)' },
  { key: 'mudTrustAnchors', file: 'mud.trust_anchors', flag: 'mud-trust-anchors', env: 'SEGWATCH_MUD_TRUST_ANCHORS', kind: 'string', help: 'PEM bundle MUD file signatures must chain to (default /etc/ssl/certs/ca-certificates.crt)' },
  { key: 'apiMaxBodyBytes', file: 'api_max_body_bytes', flag: 'api-max-body-bytes', env: 'SEGWATCH_API_MAX_BODY_BYTES', kind: 'int', min: 1024, max: 16 * 1024 * 1024, help: 'largest policy text POST /api/v1/policy/validate takes, bytes (413 beyond)' },
];

export const DEFAULTS: Partial<RunConfig> = {
  snaplen: 262144, promisc: true, bufferSizeMb: 32, stateDir: '/var/lib/segwatch',
  spoolMaxBytes: 256 * 1024 * 1024, logLevel: 'info', alertOutboxMax: 100_000, alertOutboxMaxDays: 7, degradedSilenceS: 300, degradedSpoolS: 300, degradedAlertsS: 900,
  apiRateLimit: 600, apiMaxBodyBytes: 1024 * 1024, netflowRcvbufMb: 8, judgeNice: 10,
};

export interface ConfigResult {
  config: RunConfig | null;
  errors: string[];
}

/**
 * @param flags values given on the command line (by flag name), undefined when absent
 * @param file config file path, or undefined
 */
export function resolveConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined, hostname: string): ConfigResult {
  const errors: string[] = [];
  const fromFile = new Map<string, { value: unknown; where: string }>();
  const alerts = file ? readConfigFile(file, fromFile, errors, env) : [];

  const cfg: Record<string, unknown> = { ...DEFAULTS, host: hostname, alerts, netflow: [], ipfix: [], netflowExporters: [], netflowInterfaces: {}, mudTrustedHosts: [] };
  applySettings(SETTINGS, flags, env, fromFile, cfg, errors);

  if (cfg.spoolDir === undefined) cfg.spoolDir = join(String(cfg.stateDir), 'spool');
  if (!cfg.policy) errors.push('policy: required (--policy FILE, SEGWATCH_POLICY or "policy:" in the config file)');
  const flowListen = [...(cfg.netflow as string[]), ...(cfg.ipfix as string[])];
  if (cfg.bpf !== undefined && cfg.filter !== undefined) errors.push('bpf and filter: give one (filter is the older name of bpf)');
  cfg.bpf ??= cfg.filter;
  if (cfg.interface && cfg.capture) errors.push('interface and capture: give one source, not both');
  if (cfg.capture && flowListen.length) errors.push('capture and netflow/ipfix: a capture file runs alone (its end ends the run); give --interface and/or --netflow, or --capture');
  if (!cfg.interface && !cfg.capture && !flowListen.length) errors.push('source: give --interface IF (live), --netflow [ADDR:]PORT or --ipfix [ADDR:]PORT (flows from the router), or --capture FILE');
  const seen = new Set<string>();
  for (const l of flowListen) {
    const p = parseFlowListen(l);
    const k = `${p.address}|${p.port}`;
    if (seen.has(k)) errors.push(`netflow and ipfix: ${l} is given twice (one port takes every version)`);
    seen.add(k);
  }
  if (typeof cfg.influx === 'string') {
    try {
      const u = new URL(cfg.influx);
      if (!/^https?:$/.test(u.protocol)) errors.push(`influx: expected an http:// or https:// URL, got ${JSON.stringify(cfg.influx)}`);
      if (u.pathname.replace(/\//g, '') === '') errors.push(`influx: the URL names no database, e.g. http://127.0.0.1:8086/segwatch`);
      if (u.password) errors.push('influx: a password in the URL is refused: put it in SEGWATCH_INFLUX_PASSWORD or SEGWATCH_INFLUX_PASSWORD_FILE');
    } catch {
      errors.push(`influx: expected a URL like http://127.0.0.1:8086/segwatch, got ${JSON.stringify(cfg.influx)}`);
    }
  }
  if (typeof cfg.listen === 'string') {
    try {
      parseListen(cfg.listen);
    } catch (err) {
      errors.push(`listen: ${(err as Error).message}`);
    }
    try {
      if (!apiTokenFromEnv(env)) errors.push('listen: the API needs a token: set SEGWATCH_API_TOKEN or SEGWATCH_API_TOKEN_FILE (there is no default)');
    } catch (err) {
      errors.push(`SEGWATCH_API_TOKEN_FILE: ${(err as Error).message}`);
    }
  }
  if ((cfg.apiTlsCert === undefined) !== (cfg.apiTlsKey === undefined)) {
    errors.push('api_tls_cert and api_tls_key: give both (HTTPS) or neither (HTTP)');
  }
  for (const k of ['apiTlsCert', 'apiTlsKey'] as const) {
    if (typeof cfg[k] !== 'string') continue;
    try { readFileSync(cfg[k] as string); } catch (err) { errors.push(`${k === 'apiTlsCert' ? 'api_tls_cert' : 'api_tls_key'}: cannot read: ${(err as Error).message}`); }
  }
  if (typeof cfg.listen === 'string') {
    try {
      const read = apiTokenFromEnv(env);
      if (read) checkAdminToken(apiAdminTokenFromEnv(env), read);
    } catch (err) {
      errors.push(`SEGWATCH_API_ADMIN_TOKEN: ${(err as Error).message}`);
    }
  }
  return { config: errors.length ? null : (cfg as unknown as RunConfig), errors };
}

/** flags over environment over file, for each of `defs`, into `cfg`; problems into `errors`. */
function applySettings(defs: KeyDef[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv, fromFile: Map<string, { value: unknown; where: string }>, cfg: Record<string, unknown>, errors: string[]): void {
  for (const d of defs) {
    let raw: unknown, where: string;
    if (flags[d.flag] !== undefined) { raw = flags[d.flag]; where = `--${d.flag}`; }
    else if (env[d.env] !== undefined && env[d.env] !== '') { raw = env[d.env]; where = d.env; }
    else if (fromFile.has(d.file)) { const f = fromFile.get(d.file)!; raw = f.value; where = f.where; }
    else continue;
    const v = coerce(d, raw);
    if (typeof v === "object" && v !== null && "error" in v) errors.push(`${where}: ${d.file}: ${v.error}`);
    else cfg[d.key] = v;
  }
}

export interface MudSettings {
  trustedHosts: string[];
  dir?: string;
  trustAnchors?: string;
  stateDir: string;
}

/**
 * The settings `segwatch mud import` needs (mud.*, state_dir) from flags, SEGWATCH_* variables
 * and the config file when there is one; nothing else of the file is required.
 */
export function resolveMudSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined): { settings: MudSettings | null; errors: string[] } {
  const errors: string[] = [];
  const fromFile = new Map<string, { value: unknown; where: string }>();
  if (file) readConfigFile(file, fromFile, errors, env);
  const cfg: Record<string, unknown> = { stateDir: DEFAULTS.stateDir, mudTrustedHosts: [] };
  applySettings(SETTINGS.filter((d) => d.file.startsWith('mud.') || d.key === 'stateDir'), flags, env, fromFile, cfg, errors);
  if (errors.length) return { settings: null, errors };
  return {
    settings: { trustedHosts: cfg.mudTrustedHosts as string[], dir: cfg.mudDir as string | undefined, trustAnchors: cfg.mudTrustAnchors as string | undefined, stateDir: cfg.stateDir as string },
    errors,
  };
}

function coerce(d: KeyDef, raw: unknown): unknown {
  switch (d.kind) {
    case 'string':
      if (typeof raw === 'string' && raw !== '') return raw;
      return { error: `expected a non-empty string, got ${JSON.stringify(raw)}` };
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|false|1|0|yes|no|on|off)$/i.test(raw)) return /^(true|1|yes|on)$/i.test(raw);
      return { error: `expected true or false, got ${JSON.stringify(raw)}` };
    case 'duration': {
      const r = parseDuration(typeof raw === 'number' ? `${raw}s` : raw);
      if ('error' in r) return r;
      if (r.ms < 1000) return { error: `expected at least 1s, got ${JSON.stringify(raw)}` };
      return r.ms;
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) return { error: `expected a whole number, got ${JSON.stringify(raw)}` };
      if (d.min !== undefined && n < d.min) return { error: `expected at least ${d.min}, got ${n}` };
      if (d.max !== undefined && n > d.max) return { error: `expected at most ${d.max}, got ${n}` };
      return n;
    }
    case 'list': case 'listen-list': case 'address-list': case 'host-list': {
      const v = toPlain(raw);
      const items = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean)
        : typeof v === 'number' ? [String(v)]
        : Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number') ? v.map((x) => String(x).trim()) : null;
      if (!items || items.length === 0) return { error: `expected a list (or comma-separated text), got ${JSON.stringify(v)}` };
      for (const it of items) {
        if (d.kind === 'listen-list') {
          try { parseFlowListen(it); } catch (err) { return { error: (err as Error).message }; }
        } else if (d.kind === 'address-list' && isIP(it) === 0) {
          return { error: `expected IP addresses, got ${JSON.stringify(it)}` };
        } else if (d.kind === 'host-list' && isIP(it) === 0 && !/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/i.test(it)) {
          return { error: `expected host names like "mud.example.com" (no scheme, port or path), got ${JSON.stringify(it)}` };
        }
      }
      return items;
    }
    case 'ifindex-map': {
      const v = toPlain(raw);
      let m: Record<string, unknown>;
      if (typeof v === 'string') {
        m = {};
        for (const part of v.split(';').map((x) => x.trim()).filter(Boolean)) {
          const eq = part.indexOf('=');
          if (eq <= 0) return { error: `expected EXPORTER=IF,IF;EXPORTER=IF, got ${JSON.stringify(part)}` };
          m[part.slice(0, eq).trim()] = part.slice(eq + 1).split(',').map((x) => x.trim());
        }
      } else if (v && typeof v === 'object' && !Array.isArray(v)) m = v as Record<string, unknown>;
      else return { error: `expected a mapping of exporter address to ifIndex list, e.g. { "192.0.2.1": [3, 7] }, got ${JSON.stringify(v)}` };
      const out: Record<string, number[]> = {};
      for (const [addr, list] of Object.entries(m)) {
        if (isIP(addr) === 0) return { error: `expected an exporter IP address as key, got ${JSON.stringify(addr)}` };
        const arr = Array.isArray(list) ? list : [list];
        const nums = arr.map((x) => (typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : NaN));
        if (arr.length === 0 || nums.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffffffff)) {
          return { error: `${addr}: expected a list of ifIndex numbers, got ${JSON.stringify(list)}` };
        }
        out[addr] = nums;
      }
      return out;
    }
    case 'level':
      if (typeof raw === 'string' && /^(trace|debug|info|warn|error|fatal|silent)$/.test(raw)) return raw;
      return { error: `expected one of trace, debug, info, warn, error, got ${JSON.stringify(raw)}` };
  }
}

/** A YAML node (a list or mapping in the config file) as plain data. */
function toPlain(raw: unknown): unknown {
  return raw && typeof raw === 'object' && typeof (raw as { toJSON?: unknown }).toJSON === 'function' ? (raw as { toJSON(): unknown }).toJSON() : raw;
}

/** Only the alert channels of a config file (`segwatch alerts test`): every problem, with its position. */
export function readAlertChannels(file: string, env: NodeJS.ProcessEnv): { channels: ChannelConfig[]; errors: string[] } {
  const errors: string[] = [];
  const channels = readConfigFile(file, new Map(), errors, env);
  return { channels, errors };
}

/** Reads the settings into `into`; returns the alert channels (checked, with their positions on error). */
function readConfigFile(file: string, into: Map<string, { value: unknown; where: string }>, errors: string[], env: NodeJS.ProcessEnv): ChannelConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    errors.push(`${file}: cannot read: ${(err as Error).message}`);
    return [];
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const at = (n: Node | null | undefined) => {
    const p = lc.linePos(n?.range?.[0] ?? 0);
    return `${file}:${p.line}:${p.col}`;
  };
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    errors.push(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  if (doc.errors.length) return [];
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) {
    errors.push(`${at(doc.contents as Node)}: expected a mapping of settings (key: value)`);
    return [];
  }
  const known = new Map(SETTINGS.map((d) => [d.file, d]));
  const topKeys = [...new Set(SETTINGS.map((d) => d.file.split('.')[0]))];
  let alerts: ChannelConfig[] = [];
  for (const item of doc.contents.items) {
    const k = isScalar(item.key) ? String(item.key.value) : '';
    if (k === 'mud') {
      // a mapping of its own: mud: { trusted_hosts: [...], dir: PATH, trust_anchors: FILE }
      const sub = [...known.keys()].filter((f) => f.startsWith('mud.')).map((f) => f.slice(4));
      if (!isMap(item.value)) {
        errors.push(`${at((item.value ?? item.key) as Node)}: mud: expected a mapping with ${sub.join(', ')}`);
        continue;
      }
      for (const si of item.value.items) {
        const sk = isScalar(si.key) ? String(si.key.value) : '';
        if (!sub.includes(sk)) {
          errors.push(`${at(si.key as Node)}: mud: unknown setting ${JSON.stringify(sk)}; expected one of ${sub.join(', ')}`);
          continue;
        }
        const v = si.value;
        into.set(`mud.${sk}`, { value: isScalar(v) ? v.value : v, where: at((v ?? si.key) as Node) });
      }
      continue;
    }
    if (k === 'alerts') {
      const r = parseAlertChannels(doc.get('alerts') === undefined ? undefined : (item.value as Node | null)?.toJSON(), env);
      // "alerts[2] (soc): url: ..." is placed at that channel's key in the file
      for (const e of r.errors) {
        const m = /^alerts\[(\d+)\](?: \([^)]*\))?: ([a-z_]+)/.exec(e);
        const node = m ? (doc.getIn(['alerts', Number(m[1]), m[2]], true) as Node | undefined) ?? (doc.getIn(['alerts', Number(m[1])], true) as Node | undefined) : undefined;
        errors.push(`${at(node ?? (item.value as Node))}: ${e}`);
      }
      alerts = r.channels ?? [];
      continue;
    }
    if (!known.has(k)) {
      errors.push(`${at(item.key as Node)}: unknown setting ${JSON.stringify(k)}; expected one of ${topKeys.join(', ')}, alerts`);
      continue;
    }
    const v = item.value;
    into.set(k, { value: isScalar(v) ? v.value : v, where: at((v ?? item.key) as Node) });
  }
  return alerts;
}
