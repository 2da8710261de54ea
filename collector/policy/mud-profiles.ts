// Devices judged by their MUD file at run time (RFC 8520; `profile: mud` entries and `mud: {
// auto: true }`). The store places such a device under a profile name of its own, loads the MUD
// file its URL names in the background (from `mud.dir`, else fetched as mud-fetch allows), and
// hands the detectors a view of the policy that judges those names by the MUD profile, so the
// packet path never waits for a file: until it is there the device is judged by its entry's
// profile (or the default profile). When a device has an entry with a real profile as well,
// a flow must be allowed by both (a MUD file never widens what the site's own entry allows).

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Log } from '../types.js';
import { silentLog } from '../types.js';
import type { InventoryView } from '../inventory/types.js';
import type { CompiledPolicy, DeviceFacts, DeviceIps, DevicePlacement, EvalContext, FlowFacts, PeerNames, Verdict } from './types.js';
// mud-fetch (HTTPS, pkijs) loads only when a MUD file is loaded: a site without MUD devices
// does not pay ~0.1 s of start-up for it
import type { MudFetchOptions, readTrustAnchors } from './mud-fetch.js';
import { policyName, type MudImport } from './mud.js';

/** The one profile of a MUD file's own small policy. */
const MUD_PROFILE = 'mud-file';
/** Placement names of MUD-judged devices start so: `mud:lightbulb2000`, `camera+mud:lightbulb2000`. */
const MUD_PREFIX = 'mud:';
/** After a failed load the URL is tried again this much later (ms of wall clock). */
const RETRY_MS = 3_600_000;
/** MUD URLs held at most (devices choose them: a flood of made-up URLs must not grow this forever). */
const MAX_URLS = 4096;

const DENIED: Verdict = Object.freeze({ allowed: false, rule: '', awaitingName: false });
const AWAITING: Verdict = Object.freeze({ allowed: false, rule: '', awaitingName: true });

/** Private ranges `local-networks` means when the site's segments cannot be read. */
const FALLBACK_LOCAL = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'];

export interface MudProfilesOptions {
  inventory: InventoryView;
  log?: Log;
  /** where fetched MUD files are cached (`<stateDir>/mud/`) */
  stateDir?: string;
  /** hosts MUD URLs may be fetched from (run's mud.trusted_hosts); none: only a MUD folder is read */
  trustedHosts?: readonly string[];
  /** the run config's MUD folder (mud.dir of the config file); the policy's `mud.dir` comes first */
  dir?: string;
  /** PEM bundle MUD signatures must chain to; default the system CA store */
  trustAnchors?: string;
  /** the loader; default mud-fetch's loadMudProfile (tests may pass their own) */
  load?: (url: string, opts: MudFetchOptions) => Promise<MudImport>;
  /** wall clock, ms (retry after a failure) */
  now?: () => number;
}

/** What a MUD-judged placement name stands for. */
interface Judged {
  url: string;
  /** the profile judging the device until its MUD profile is there */
  fallback: string;
  /** the device's entry has a real profile too: a flow must be allowed by both */
  intersect: boolean;
}

interface UrlEntry {
  state: 'loading' | 'loaded' | 'failed';
  mud?: MudImport;
  /** the MUD file's policy, compiled against the site policy it was made for */
  compiled?: { site: CompiledPolicy; policy: CompiledPolicy | null };
  /** wall clock of the failure */
  failedAt: number;
  /** the host of the URL, lower case: the device's manufacturer for same-manufacturer */
  host: string;
}

export interface MudProfileStats {
  /** MUD files loaded and in use */
  loaded: number;
  loading: number;
  /** loads that failed (each URL logged once) */
  loadFailures: number;
  /** MUD files that loaded but whose profile segwatch refused (logged once) */
  compileFailures: number;
}

export class MudProfiles {
  private readonly inv: InventoryView;
  private readonly log: Log;
  private readonly opts: MudProfilesOptions;
  private readonly now: () => number;
  private readonly urls = new Map<string, UrlEntry>();
  /** placement name -> what it stands for; names are made once per (url, fallback, intersect) */
  private readonly judged = new Map<string, Judged>();
  private readonly nameOf = new Map<string, string>();
  /** the site policy's segments and controllers, read from its file (the compiled policy keeps no document) */
  private readonly siteBits = new WeakMap<CompiledPolicy, SiteBits | 'reading'>();
  private readonly siteReads = new WeakMap<CompiledPolicy, Promise<void>>();
  private readonly views = new WeakMap<CompiledPolicy, CompiledPolicy>();
  private readonly loggedFailure = new Set<string>();
  private readonly counts = { loadFailures: 0, compileFailures: 0 };
  /** the trust anchor bundle, parsed once for the life of the collector (only when something may be fetched) */
  private anchors: ReturnType<typeof readTrustAnchors> | undefined;
  /** resolves when no load is under way (tests; a shutdown does not wait for it) */
  private pending = new Set<Promise<void>>();

  constructor(opts: MudProfilesOptions) {
    this.opts = opts;
    this.inv = opts.inventory;
    this.log = opts.log ?? silentLog;
    this.now = opts.now ?? Date.now;
  }

  /**
   * The site's placement of a device, with a MUD-judged name when its MUD file judges it: an
   * entry `profile: mud`, or under `mud: { auto: true }` a watched device with a MUD URL and no
   * entry (judged by the file alone) or an entry with a real profile (judged by both).
   */
  place(p: CompiledPolicy, facts: DeviceFacts & { mudUrl?: string }): DevicePlacement {
    const pl = p.place(facts);
    const url = facts.mudUrl ?? '';
    if (pl.profile === 'mud') {
      // until the file is there (or without a URL at all) the default profile judges it
      const dflt = p.place({ mac: '', ip: '', vendor: '', hostname: '' }).profile;
      return url === '' ? { ...pl, profile: dflt } : { ...pl, profile: this.name(url, dflt, false) };
    }
    if (url === '' || pl.profile === 'learn' || !p.mud().auto) return pl;
    if (!pl.known) return facts.ip !== '' && p.isWatched(facts.ip) ? { ...pl, profile: this.name(url, pl.profile, false) } : pl;
    return { ...pl, profile: this.name(url, pl.profile, true) };
  }

  /** The policy as the detectors see it: MUD-judged names evaluated by their MUD profile. One view per policy. */
  view(p: CompiledPolicy): CompiledPolicy {
    let v = this.views.get(p);
    if (!v) { v = new MudView(p, this); this.views.set(p, v); }
    return v;
  }

  stats(): MudProfileStats {
    let loaded = 0, loading = 0;
    for (const e of this.urls.values()) {
      if (e.state === 'loaded') loaded++;
      else if (e.state === 'loading') loading++;
    }
    return { loaded, loading, ...this.counts };
  }

  /** Resolves when the loads under way have ended (tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** What a placement name stands for; undefined for the site's own profile names. */
  judgedBy(profile: string): Judged | undefined {
    return this.judged.get(profile);
  }

  /**
   * The MUD file's compiled policy for `url` under site policy `site`, or null while it loads,
   * after a failure, or until the site's segments are read; starts what is missing. Never waits.
   */
  compiledFor(url: string, site: CompiledPolicy): CompiledPolicy | null {
    const e = this.entry(url);
    if (e.state !== 'loaded' || !e.mud) return null;
    if (e.compiled && e.compiled.site === site) return e.compiled.policy;
    const bits = this.siteBits.get(site);
    if (bits === undefined) { void this.readSite(site); return null; }
    if (bits === 'reading') return null;
    const policy = this.compile(url, e.mud, bits);
    e.compiled = { site, policy };
    return policy;
  }

  /** The host of the MUD URL of the device at ip ("" when none): manufacturer rules. */
  readonly mudHostOf = (ip: string): string => {
    const u = this.inv.deviceByIp(ip)?.mudUrl;
    return u ? this.entry(u, false).host : '';
  };

  hostOf(url: string): string {
    return this.entry(url, false).host;
  }

  // ---- internals -----------------------------------------------------------------

  private name(url: string, fallback: string, intersect: boolean): string {
    const key = `${intersect ? 1 : 0}|${fallback}|${url}`;
    let n = this.nameOf.get(key);
    if (n !== undefined) return n;
    let seg = '';
    try { seg = new URL(url).pathname.split('/').filter(Boolean).pop() ?? ''; } catch { /* validated before; a name still results */ }
    const base = (intersect ? `${fallback}+` : '') + MUD_PREFIX + policyName(seg);
    n = base;
    for (let i = 2; this.judged.has(n); i++) n = `${base}-${i}`;
    this.judged.set(n, { url, fallback, intersect });
    this.nameOf.set(key, n);
    // a device's placement asks before any flow: the file starts loading now
    this.entry(url);
    return n;
  }

  /** The URL's entry; with `start`, a load begins when none ran or the last failed long enough ago. */
  private entry(url: string, start = true): UrlEntry {
    let e = this.urls.get(url);
    if (e === undefined) {
      let host = '';
      try { host = new URL(url).hostname.toLowerCase(); } catch { /* stays "" */ }
      e = { state: 'failed', failedAt: -Infinity, host };
      if (this.urls.size >= MAX_URLS) {
        // the oldest URL makes room (insertion order); devices placed under it fall back
        const first = this.urls.keys().next().value as string;
        this.urls.delete(first);
      }
      this.urls.set(url, e);
    }
    if (start && e.state === 'failed' && this.now() - e.failedAt >= RETRY_MS) this.startLoad(url, e);
    return e;
  }

  private startLoad(url: string, e: UrlEntry): void {
    e.state = 'loading';
    const site = this.lastSite;
    const dir = (site ? mudDir(site) : undefined) ?? this.opts.dir;
    const o = this.opts;
    const opts: MudFetchOptions = {
      trustedHosts: o.trustedHosts ?? [],
      ...(o.stateDir ? { stateDir: o.stateDir } : {}), ...(dir ? { dir } : {}), ...(o.trustAnchors ? { trustAnchors: o.trustAnchors } : {}),
    };
    const job = (async () => {
      try {
        const fetcher = this.opts.load ? null : await import('./mud-fetch.js');
        const load = this.opts.load ?? fetcher!.loadMudProfile;
        if ((o.trustedHosts?.length ?? 0) > 0) {
          this.anchors ??= (fetcher ?? await import('./mud-fetch.js')).readTrustAnchors(o.trustAnchors);
          // a bundle that cannot be read leaves the fetch to say why, for this URL
          opts.anchors = await this.anchors.catch(() => undefined);
          if (opts.anchors === undefined) this.anchors = undefined;
        }
        const mud = await load(url, opts);
        // the site's segments too, so the first flow after this line is judged by the file
        if (site) await this.readSite(site);
        e.mud = mud;
        e.state = 'loaded';
        e.compiled = undefined;
        this.log.info({ url, profile: e.mud.profileName, unsupported: e.mud.unsupported.length }, 'MUD file loaded: devices announcing it are judged by it');
      } catch (err) {
        e.state = 'failed';
        e.failedAt = this.now();
        this.counts.loadFailures++;
        if (!this.loggedFailure.has(url)) {
          this.loggedFailure.add(url);
          this.log.warn({ url, err: (err as Error).message }, 'MUD file not loaded: its devices are judged by their entry\'s or the default profile');
        }
      }
    })();
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
  }

  /** load.ts's loadPolicyText, imported by readSite() (compile() runs only after it) */
  private loadPolicyText: typeof import('./load.js').loadPolicyText | null = null;

  /** The policy last seen by a view: where `mud.dir` is read from. */
  private lastSite: CompiledPolicy | undefined;
  noteSite(p: CompiledPolicy): void {
    this.lastSite = p;
  }

  private readSite(site: CompiledPolicy): Promise<void> {
    const running = this.siteReads.get(site);
    if (running) return running;
    this.siteBits.set(site, 'reading');
    const job = (async () => {
      // the YAML parser and the policy loader come with the first MUD device, not with every
      // pipeline (`segwatch flows` has no policy): compile() runs only after this
      const [{ parse: parseYaml }, { loadPolicyText }] = await Promise.all([import('yaml'), import('./load.js')]);
      this.loadPolicyText = loadPolicyText;
      let bits: SiteBits;
      try {
        bits = siteBitsOf(parseYaml(await readFile(site.source, 'utf8')) as unknown);
      } catch {
        // a policy compiled from text (tests, the API's validation) has no file to read
        bits = { segments: {}, controllers: {} };
      }
      this.siteBits.set(site, bits);
    })();
    this.siteReads.set(site, job);
    this.pending.add(job);
    void job.finally(() => this.pending.delete(job));
    return job;
  }

  /** The MUD import as a policy of its own: its rules, the site's segments (local-networks) and controllers. */
  private compile(url: string, mud: MudImport, site: SiteBits): CompiledPolicy | null {
    const segments = Object.keys(site.segments).length > 0 ? site.segments : { local: FALLBACK_LOCAL };
    const strip = <T extends { comment?: string }>(r: T): Omit<T, 'comment'> => { const { comment: _c, ...rest } = r; return rest; };
    const controllers = { ...mud.controllers, ...pickKeys(site.controllers, Object.keys(mud.controllers)) };
    const doc = {
      version: 1,
      segments,
      watch: [Object.keys(segments)[0]],
      default_profile: MUD_PROFILE,
      ...(Object.keys(controllers).length > 0 ? { controllers } : {}),
      profiles: {
        [MUD_PROFILE]: {
          allow: mud.profile.allow.map(strip),
          ...(mud.profile.allow_in.length > 0 ? { allow_in: mud.profile.allow_in.map(strip) } : {}),
        },
      },
    };
    const r = this.loadPolicyText!(JSON.stringify(doc), `mud:${url}`);
    if (r.policy === null) {
      this.counts.compileFailures++;
      if (!this.loggedFailure.has('compile|' + url)) {
        this.loggedFailure.add('compile|' + url);
        this.log.warn({ url, errors: r.errors.slice(0, 5).map((x) => `${x.path}: ${x.message}`) }, 'MUD file refused: its devices are judged by their entry\'s or the default profile');
      }
    }
    return r.policy;
  }
}

interface SiteBits { segments: Record<string, string[]>; controllers: Record<string, string[]> }

function siteBitsOf(doc: unknown): SiteBits {
  const o = typeof doc === 'object' && doc !== null ? doc as Record<string, unknown> : {};
  return { segments: listMap(o.segments), controllers: listMap(o.controllers) };
}

function listMap(v: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, list] of Object.entries(v)) {
    if (Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string')) out[k] = list as string[];
  }
  return out;
}

function pickKeys(m: Record<string, string[]>, keys: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of keys) if (m[k]) out[k] = m[k];
  return out;
}

/** `mud.dir` of a policy, relative to the policy file's folder. */
function mudDir(p: CompiledPolicy): string | undefined {
  const d = p.mud().dir;
  if (d === undefined) return undefined;
  return isAbsolute(d) ? d : resolve(dirname(p.source), d);
}

/**
 * The site policy with MUD-judged placement names evaluated by their MUD profile (or, until it
 * is there, by their fallback profile). Everything else is the site policy's.
 */
class MudView implements CompiledPolicy {
  readonly source: string;
  readonly vlan: number | undefined;
  /** the EvalContext of MUD evaluations, refilled per call (no object per flow) */
  private readonly ctx: EvalContext & { ips: DeviceIps };

  constructor(private readonly site: CompiledPolicy, private readonly store: MudProfiles) {
    this.source = site.source;
    this.vlan = site.vlan;
    const c = { ips: ((): readonly string[] => []) as DeviceIps, deviceIps: (n: string) => c.ips(n), mudHostOf: store.mudHostOf, selfMudHost: '' };
    this.ctx = c;
    store.noteSite(site);
  }

  segmentOf(ip: string): string { return this.site.segmentOf(ip); }
  isWatched(ip: string): boolean { return this.site.isWatched(ip); }
  isWatched4(v: number): boolean { return this.site.isWatched4(v); }
  segmentOf4(v: number): string { return this.site.segmentOf4(v); }
  protectedSegment(ip: string): string { return this.site.protectedSegment(ip); }
  isResolver(ip: string): boolean { return this.site.isResolver(ip); }
  place(device: DeviceFacts): DevicePlacement { return this.store.place(this.site, device); }
  limits(profile: string) { return this.site.limits(this.store.judgedBy(profile)?.fallback ?? profile); }
  profiles(): readonly string[] { return this.site.profiles(); }
  detectSettings() { return this.site.detectSettings(); }
  suppresses(a: Parameters<CompiledPolicy['suppresses']>[0], now: number): boolean { return this.site.suppresses(a, now); }
  nextExceptionEnd(now: number): number { return this.site.nextExceptionEnd(now); }
  mud() { return this.site.mud(); }

  evaluate(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict {
    return this.judge(profile, flow, names, ctx, false);
  }

  evaluateIn(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict {
    return this.judge(profile, flow, names, ctx, true);
  }

  hasAllowIn(profile: string): boolean {
    const j = this.store.judgedBy(profile);
    if (!j) return this.site.hasAllowIn(profile);
    const m = this.store.compiledFor(j.url, this.site);
    return m !== null ? m.hasAllowIn(MUD_PROFILE) : this.site.hasAllowIn(j.fallback);
  }

  private judge(profile: string, flow: FlowFacts, peerNames: PeerNames, ctx: EvalContext | DeviceIps, inbound: boolean): Verdict {
    const j = this.store.judgedBy(profile);
    const site = this.site;
    if (!j) return inbound ? site.evaluateIn(profile, flow, peerNames, ctx) : site.evaluate(profile, flow, peerNames, ctx);
    // judged twice (the MUD file, then the entry's own profile): the names looked up once
    const names = typeof peerNames === 'function' ? peerNames() : peerNames;
    const m = this.store.compiledFor(j.url, site);
    const base = (): Verdict => (inbound ? site.evaluateIn(j.fallback, flow, names, ctx) : site.evaluate(j.fallback, flow, names, ctx));
    if (m === null) return base();
    const c = this.ctx;
    c.ips = typeof ctx === 'function' ? ctx : ctx.deviceIps;
    c.selfMudHost = this.store.hostOf(j.url);
    const mv = inbound ? m.evaluateIn(MUD_PROFILE, flow, names, c) : m.evaluate(MUD_PROFILE, flow, names, c);
    if (!j.intersect) return mv;
    // never wider than the device's own entry: both must allow
    if (!mv.allowed && !mv.awaitingName) return mv;
    const bv = base();
    if (mv.allowed && bv.allowed) return mv;
    return (mv.allowed || mv.awaitingName) && (bv.allowed || bv.awaitingName) ? AWAITING : DENIED;
  }
}
