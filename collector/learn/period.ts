// `run --learn-for DURATION`: learn, then enforce. A watched device the policy does not list,
// or whose entry says `profile: learn`, is learned for the period from its first flow: its
// policy.violation, volume.limit and device.new are held back (every other kind is still
// raised). When the period ends, its learned profile is in force (the policy in force is the
// file's policy with the learned entries and profiles added, as `segwatch learn` would write
// them) and what it does beyond it is reported. A proposal per device, in the API and as
// YAML in <state_dir>/proposals/, is what a person copies into the policy file.
// What was seen and when each period began live in the state database: a restart goes on.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { CompiledPolicy } from '../policy/types.js';
import { loadPolicyText } from '../policy/load.js';
import type { DetectorDef } from '../detect/detector.js';
import type { AnomalyInit } from '../detect/anomaly.js';
import type { InventoryView } from '../inventory/types.js';
import type { Log, Proto } from '../types.js';
import { silentLog } from '../types.js';
import type { LearningStore } from '../state/learning.js';
import { Learner, type DeviceObs } from './observer.js';
import { draftPolicy } from './draft.js';

const HELD = new Set(['policy.violation', 'volume.limit', 'device.new']);
/** how often (in the pipeline's time) what was seen is written to the state database */
const SAVE_EVERY_MS = 10_000;

export interface Proposal {
  /** the name the proposal gives the device. */
  device: string;
  /** the device's id (MAC, else IP). */
  id: string;
  state: 'learning' | 'ready';
  /** ISO times: when learning began, when it ends or ended. */
  started: string;
  ends: string;
  accepted: boolean;
  rules: number;
  /** devices: and profiles: entries to copy into the policy. */
  yaml: string;
}

interface Period {
  started: number;
  ended: number | null;
  accepted: boolean;
}

export interface LearnPeriodOptions {
  periodMs: number;
  /** the policy file's policy in force, and its text (re-read when the policy changes). */
  policy: () => CompiledPolicy;
  policyText: () => string;
  /** <state_dir>/proposals, where each ended device's proposal is written. */
  proposalsDir?: string;
  log?: Log;
}

export class LearnPeriod {
  readonly learner = new Learner();
  private readonly periods = new Map<string, Period>();
  private inv: InventoryView | null = null;
  private base: CompiledPolicy | null = null;
  private merged: CompiledPolicy | null = null;
  private lastSave = -Infinity;
  private readonly log: Log;
  private store: LearningStore | null = null;

  constructor(private readonly opts: LearnPeriodOptions) {
    this.log = opts.log ?? silentLog;
  }

  /** Keep the periods in the state database, going on with what an earlier run left there. */
  open(store: LearningStore): void {
    this.store = store;
    for (const r of store.rows()) {
      this.periods.set(r.id, { started: r.startedMs, ended: r.endedMs, accepted: r.accepted });
      const d = fromJson(r.seen);
      if (d) this.learner.restore(d);
    }
    this.merged = null;
    if (this.periods.size) this.log.info({ devices: this.periods.size }, 'learning: resumed from the state database');
  }

  /** The inventory that names devices (for entries that match by vendor or host name). */
  attach(inv: InventoryView): void {
    this.inv = inv;
  }

  /** The policy in force: the file's, with the profiles of devices whose period ended. */
  policy(): CompiledPolicy {
    const base = this.opts.policy();
    if (base !== this.base) {
      this.base = base;
      this.merged = null;
    }
    if (!this.merged) this.merged = this.build(base);
    return this.merged;
  }

  /** The learner's detector, with the periods' clock on its ticks. */
  detector(): DetectorDef {
    const inner = this.learner.detector();
    return {
      ...inner,
      create: (ctx) => {
        const d = inner.create(ctx);
        return { ...d, tick: (now: number) => this.tick(now), flush: () => this.save() };
      },
    };
  }

  /** DetectEngineOptions.holdBack: a held kind about a device in its learning period. */
  readonly holdBack = (init: AnomalyInit): boolean => {
    if (!HELD.has(init.kind)) return false;
    const s = init.subject;
    return this.learning(s.mac, s.ip, init.time);
  };

  /** The device is learned at `time` (its period began now if it had not). */
  learning(mac: string, ip: string, time: number): boolean {
    const id = mac || ip;
    if (!id) return false;
    let p = this.periods.get(id);
    if (!p) {
      if (!this.learnable(mac, ip)) return false;
      p = { started: time, ended: null, accepted: false };
      this.periods.set(id, p);
      this.log.info({ device: id, until: new Date(time + this.opts.periodMs).toISOString() }, 'learning a device');
    }
    if (p.ended !== null) return false;
    if (time >= p.started + this.opts.periodMs) {
      this.end(id, p, p.started + this.opts.periodMs, false);
      return false;
    }
    return true;
  }

  tick(now: number): void {
    // a device whose flows raised nothing held back yet: its period began at its first flow
    for (const d of this.learner.devices()) if (!this.periods.has(d.key)) this.learning(d.mac, d.ips[0], d.first);
    for (const [id, p] of this.periods) if (p.ended === null && now >= p.started + this.opts.periodMs) this.end(id, p, p.started + this.opts.periodMs, false);
    if (now - this.lastSave >= SAVE_EVERY_MS) {
      this.lastSave = now;
      this.save();
    }
  }

  /** Ends a device's period now (POST /proposals/:device/accept); undefined when no such device. */
  accept(device: string, now: number): Proposal | undefined {
    const id = this.idOf(device);
    const p = id ? this.periods.get(id) : undefined;
    if (!id || !p) return undefined;
    if (p.ended === null) this.end(id, p, now, true);
    else if (!p.accepted) { p.accepted = true; this.save(); }
    return this.proposals().find((x) => x.id === id);
  }

  proposals(): Proposal[] {
    const out: Proposal[] = [];
    for (const [id, p] of this.periods) {
      const d = this.learner.device(id);
      const draft = d ? this.draft([d]) : null;
      const dev = draft?.devices[0];
      out.push({
        device: dev?.name ?? id, id, state: p.ended === null ? 'learning' : 'ready',
        started: new Date(p.started).toISOString(), ends: new Date(p.ended ?? p.started + this.opts.periodMs).toISOString(),
        accepted: p.accepted, rules: dev?.rules ?? 0, yaml: draft && dev ? fragment(draft.yaml, dev.name, dev.profile) : '',
      });
    }
    return out.sort((a, b) => a.started.localeCompare(b.started) || a.id.localeCompare(b.id));
  }

  /** Writes what was seen and the periods to the state database. */
  save(): void {
    const store = this.store;
    if (!store) return;
    for (const [id, p] of this.periods) {
      const d = this.learner.device(id);
      store.save({ id, startedMs: p.started, endedMs: p.ended, accepted: p.accepted, seen: d ? toJson(d) : '{}' });
    }
  }

  private idOf(device: string): string | undefined {
    if (this.periods.has(device)) return device;
    return this.proposals().find((x) => x.device === device)?.id;
  }

  /** Unlisted, or listed with `profile: learn`, under the file's policy. */
  private learnable(mac: string, ip: string): boolean {
    const p = this.opts.policy();
    const dev = (mac ? this.inv?.deviceByMac(mac) : undefined) ?? this.inv?.deviceByIp(ip);
    const placed = p.place({ mac, ip, vendor: dev?.vendor ?? '', hostname: dev?.hostname ?? '' });
    return !placed.known || placed.profile === 'learn';
  }

  private end(id: string, p: Period, at: number, accepted: boolean): void {
    p.ended = at;
    p.accepted = accepted;
    this.merged = null;
    const proposal = this.proposals().find((x) => x.id === id);
    this.log.info({ device: proposal?.device ?? id, rules: proposal?.rules ?? 0 }, 'learning ended: the learned profile is in force');
    if (proposal && this.opts.proposalsDir) {
      try {
        mkdirSync(this.opts.proposalsDir, { recursive: true, mode: 0o750 });
        const file = join(this.opts.proposalsDir, `${proposal.device}.yaml`);
        writeFileSync(`${file}.tmp`, proposal.yaml);
        renameSync(`${file}.tmp`, file);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'the proposal could not be written');
      }
    }
    this.save();
  }

  /** The file's policy with the ended devices' learned entries and profiles. */
  private build(base: CompiledPolicy): CompiledPolicy {
    const ended = [...this.periods].filter(([, p]) => p.ended !== null).map(([id]) => this.learner.device(id)).filter((d): d is DeviceObs => d !== undefined);
    if (!ended.length) return base;
    const draft = this.draft(ended);
    const r = loadPolicyText(draft.yaml, `${base.source} + learned`);
    if (!r.policy) {
      this.log.error({ errors: r.errors.slice(0, 5).map((e) => e.message) }, 'the learned profiles do not load; the policy file alone is in force');
      return base;
    }
    return r.policy;
  }

  private draft(devices: DeviceObs[]) {
    const inv = this.inv;
    return draftPolicy({
      devices,
      facts: (d) => {
        const dev = (d.mac ? inv?.deviceByMac(d.mac) : undefined) ?? inv?.deviceByIp(d.ips[0]);
        return { vendor: dev?.vendor ?? '', hostname: dev?.hostname ?? '' };
      },
      policy: this.opts.policy(),
      text: this.opts.policyText(),
      deviceIps: (name) => inv?.devices().filter((d) => d.name === name).flatMap((d) => d.ips) ?? [],
      deviceAt: (ip) => inv?.deviceByIp(ip),
      from: `run --learn-for ${Math.round(this.opts.periodMs / 1000)}s`,
    });
  }
}

/** The device's entry and profile out of a whole draft, for a person to copy. */
function fragment(draftYaml: string, name: string, profile: string): string {
  const doc = parse(draftYaml) as { devices?: { name: string }[]; profiles?: Record<string, unknown> };
  const entry = doc.devices?.find((e) => e.name === name);
  const out = { devices: entry ? [entry] : [], profiles: { [profile]: doc.profiles?.[profile] } };
  return `# Learned by segwatch run --learn-for: copy into the policy's devices: and profiles:\n${stringify(out, { lineWidth: 0 })}`;
}

interface ObsJson {
  key: string; mac: string; ips: string[]; vlan: number; first: number; last: number; overflow: number;
  out: [string, { proto: Proto; dst: string; dport: number; dns: string[]; sni: string[]; count: number; first: number; last: number }][];
  in: [string, { proto: Proto; src: string; dport: number; count: number; first: number; last: number }][];
  buckets: [number, number][];
}

function toJson(d: DeviceObs): string {
  const j: ObsJson = {
    key: d.key, mac: d.mac, ips: d.ips, vlan: d.vlan, first: d.first, last: d.last, overflow: d.overflow,
    out: [...d.out].map(([k, o]) => [k, { ...o, dns: [...o.dns], sni: [...o.sni] }]),
    in: [...d.in], buckets: [...d.buckets],
  };
  return JSON.stringify(j);
}

/** undefined for a row that is not what toJson wrote (a damaged database costs that device's counts). */
function fromJson(text: string): DeviceObs | undefined {
  try {
    const j = JSON.parse(text) as ObsJson;
    if (typeof j.key !== 'string' || !Array.isArray(j.out) || !Array.isArray(j.in) || !Array.isArray(j.buckets)) return undefined;
    return {
      key: j.key, mac: j.mac ?? '', ips: Array.isArray(j.ips) ? j.ips : [], vlan: j.vlan ?? 0, first: j.first, last: j.last, overflow: j.overflow ?? 0,
      out: new Map(j.out.map(([k, o]) => [k, { ...o, dns: new Set(o.dns), sni: new Set(o.sni) }])),
      in: new Map(j.in), buckets: new Map(j.buckets),
    };
  } catch {
    return undefined;
  }
}
