// The template cache shared by NetFlow v9 and IPFIX: templates scoped per (exporter, source
// ID / observation domain, version), bounded in total, per scope and in scopes, expiring when
// not refreshed. A template is a small Int32Array of (slot, length) pairs, never code.

import { Oldest } from '../oldest.js';

/** A field length of 65535 in an IPFIX template: the record carries the length (RFC 7011 7). */
export const VARLEN = 65535;

export interface Template {
  readonly id: number;
  readonly scope: Scope;
  /** (slot, length) pairs; length VARLEN = variable. */
  fields: Int32Array;
  /** bytes of the shortest record (a variable-length field counts its 1-byte length). */
  minLen: number;
  hasVar: boolean;
  /** an options template: its data records configure the scope, they are not flows. */
  options: boolean;
  /** carries RFC 5103 reverse elements. */
  biflow: boolean;
  /** nowMs of the last definition or refresh. */
  refreshed: number;
}

/** What one (exporter, domain, version) has told us, and its sequence-number state. */
export interface Scope {
  readonly key: string;
  readonly exporter: string;
  readonly domain: number;
  readonly version: number;
  templates: Map<number, Template>;
  /** false once evicted: a cached reference must look the scope up again. */
  live: boolean;
  /** next expected sequence number, -1 until known or after a datagram we could not count. */
  nextSeq: number;
  lost: number;
  /** sampling interval from options data that names no sampler; 0 = none. */
  defaultRate: number;
  /** sampler / selector id -> interval, from options data; bounded by MAX_SAMPLERS. */
  samplers: Map<number, number>;
  /** systemInitTimeMilliseconds from options data (IPFIX sysUpTime fields are relative to it); -1 unknown. */
  sysInitMs: number;
}

/** Samplers remembered per scope: a hostile exporter could name 2^32 of them. */
export const MAX_SAMPLERS = 256;

export interface TemplateCacheOptions {
  maxTemplates: number;
  maxTemplatesPerDomain: number;
  templateTimeoutMs: number;
  maxScopes: number;
}

export class TemplateCache {
  /** scopes in least-recently-used order (first = oldest). */
  private readonly scopes = new Map<string, Scope>();
  /** every cached template in least-recently-refreshed order (first = oldest). */
  private readonly all = new Set<Template>();
  private readonly scopesOldest = new Oldest(this.scopes);
  private readonly allOldest = new Oldest(this.all);
  private nextSweep = 0;
  added = 0;
  withdrawn = 0;
  expired = 0;
  evicted = 0;
  /** lost counts of scopes dropped by the scope cap, kept so totals do not shrink. */
  lostDropped = 0;

  constructor(private readonly o: TemplateCacheOptions) {}

  get size(): number { return this.all.size; }

  scope(exporter: string, domain: number, version: number): Scope {
    const key = `${version}|${domain}|${exporter}`;
    let s = this.scopes.get(key);
    if (s !== undefined) {
      this.scopes.delete(key);
      this.scopes.set(key, s);
      return s;
    }
    while (this.scopes.size >= this.o.maxScopes) {
      const oldest = this.scopes.get(this.scopesOldest.key()!)!;
      this.dropScope(oldest);
    }
    s = {
      key, exporter, domain, version, templates: new Map(), live: true, nextSeq: -1, lost: 0,
      defaultRate: 0, samplers: new Map(), sysInitMs: -1,
    };
    this.scopes.set(key, s);
    return s;
  }

  private dropScope(s: Scope): void {
    s.live = false;
    this.scopes.delete(s.key);
    for (const t of s.templates.values()) { this.all.delete(t); this.evicted++; }
    s.templates.clear();
    this.lostDropped += s.lost;
  }

  /** The template, or undefined when unknown or expired (an expired one is removed). */
  get(s: Scope, id: number, nowMs: number): Template | undefined {
    const t = s.templates.get(id);
    if (t === undefined) return undefined;
    if (nowMs - t.refreshed > this.o.templateTimeoutMs) {
      this.remove(t);
      this.expired++;
      return undefined;
    }
    return t;
  }

  /**
   * Defines or refreshes template id with fields[0, 2n). The scratch array is copied only when
   * the definition changed, so an exporter resending the same templates allocates nothing.
   */
  put(s: Scope, id: number, fields: Int32Array, n: number, minLen: number, hasVar: boolean, options: boolean, biflow: boolean, nowMs: number): void {
    const old = s.templates.get(id);
    if (old !== undefined && old.options === options && old.fields.length === 2 * n && sameFields(old.fields, fields, n)) {
      old.refreshed = nowMs;
      s.templates.delete(id); s.templates.set(id, old);
      this.all.delete(old); this.all.add(old);
      return;
    }
    if (old !== undefined) this.remove(old);
    while (s.templates.size >= this.o.maxTemplatesPerDomain) {
      this.remove(s.templates.values().next().value as Template);
      this.evicted++;
    }
    while (this.all.size >= this.o.maxTemplates) {
      this.remove(this.allOldest.key()!);
      this.evicted++;
    }
    const t: Template = { id, scope: s, fields: fields.slice(0, 2 * n), minLen, hasVar, options, biflow, refreshed: nowMs };
    s.templates.set(id, t);
    this.all.add(t);
    this.added++;
  }

  withdraw(s: Scope, id: number): void {
    const t = s.templates.get(id);
    if (t !== undefined) { this.remove(t); this.withdrawn++; }
  }

  /** RFC 7011 8.1: template id 2 (or 3) with no fields withdraws all (options) templates of the domain. */
  withdrawAll(s: Scope, options: boolean): void {
    for (const t of [...s.templates.values()]) {
      if (t.options === options) { this.remove(t); this.withdrawn++; }
    }
  }

  private remove(t: Template): void {
    this.all.delete(t);
    if (t.scope.templates.get(t.id) === t) t.scope.templates.delete(t.id);
  }

  /**
   * Drops templates not refreshed within the timeout. The set is in refresh order, so the
   * sweep stops at the first live one; it runs at most every few seconds of nowMs.
   */
  sweep(nowMs: number): void {
    if (nowMs < this.nextSweep) return;
    this.nextSweep = nowMs + Math.min(10_000, this.o.templateTimeoutMs / 4);
    for (const t of this.all) {
      if (nowMs - t.refreshed <= this.o.templateTimeoutMs) break;
      this.remove(t);
      this.expired++;
    }
  }

  scopeList(): IterableIterator<Scope> { return this.scopes.values(); }
}

function sameFields(a: Int32Array, b: Int32Array, n: number): boolean {
  for (let i = 0; i < 2 * n; i++) if (a[i] !== b[i]) return false;
  return true;
}
