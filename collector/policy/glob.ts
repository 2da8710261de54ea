// Globs of the policy: vendor/hostname/MAC globs (compiled to anchored regular
// expressions) and domain globs (a reversed-label trie).
//
// Domain globs: "*.ring.com" matches "a.ring.com" and "x.y.ring.com" but NOT "ring.com"
// (a wildcard stands for at least one label, as in TLS certificates and as admins
// expect); write a second rule "ring.com" to allow the bare name. Case-insensitive; a
// trailing dot on a name is ignored.

import { PortIndex, PortIndexBuilder, type RuleMatch } from './ports.js';
import type { PortSpec } from './units.js';

/** Case-insensitive anchored matcher for a glob with `*` (any run) and `?` (one character). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/** null when the MAC glob is well formed, else what was expected. */
export function checkMacGlob(s: string): string | null {
  const expected = 'expected a MAC like "aa:bb:cc:00:00:01" or a MAC glob like "aa:bb:cc:*"';
  const groups = s.toLowerCase().split(':');
  const wild = /[*?]/.test(s);
  if (groups.length > 6 || (!wild && groups.length !== 6)) return `${expected}, got "${s}"`;
  for (const g of groups) {
    if (/^[0-9a-f]{2}$/.test(g)) continue;
    if (/^[0-9a-f*?]{1,2}$/.test(g) && /[*?]/.test(g)) continue;
    if (g === '*') continue;
    return `${expected}, got "${s}": "${g}" is not two hex digits or a wildcard`;
  }
  return null;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** null when `s` is a domain glob ("*.ring.com" or "ring.com"), else what was expected. */
export function checkDomainGlob(s: string): string | null {
  const expected = 'expected a domain like "ring.com" or a domain glob like "*.ring.com" (a "*" only as the whole first label)';
  const body = s.startsWith('*.') ? s.slice(2) : s;
  if (body.length === 0 || body.length > 253) return `${expected}, got "${s}"`;
  for (const l of body.toLowerCase().split('.')) {
    if (!LABEL.test(l)) return `${expected}, got "${s}"${l.includes('*') ? '' : `: "${l}" is not a valid label`}`;
  }
  return null;
}

class DomainNode {
  kids: Map<string, DomainNode> | null = null;
  exact: PortIndex | null = null;
  wild: PortIndex | null = null;
  exactB: PortIndexBuilder | null = null;
  wildB: PortIndexBuilder | null = null;
}

/** Reversed-label trie of domain rules: com -> ring -> (exact | wildcard) port indexes. */
export class DomainTrie {
  private root = new DomainNode();
  private built = false;
  count = 0;

  add(glob: string, rule: number, ports: readonly PortSpec[] | RuleMatch | undefined): void {
    const wild = glob.startsWith('*.');
    const labels = (wild ? glob.slice(2) : glob).toLowerCase().split('.').reverse();
    let node = this.root;
    for (const l of labels) {
      node.kids ??= new Map();
      let next = node.kids.get(l);
      if (!next) { next = new DomainNode(); node.kids.set(l, next); }
      node = next;
    }
    if (wild) (node.wildB ??= new PortIndexBuilder()).add(rule, ports);
    else (node.exactB ??= new PortIndexBuilder()).add(rule, ports);
    this.count++;
  }

  build(): this {
    const walk = (n: DomainNode) => {
      if (n.exactB) { n.exact = n.exactB.build(); n.exactB = null; }
      if (n.wildB) { n.wild = n.wildB.build(); n.wildB = null; }
      if (n.kids) for (const k of n.kids.values()) walk(k);
    };
    walk(this.root);
    this.built = true;
    return this;
  }

  /** Lowest rule index whose domain matches `name` and allows (proto, port); -1 when none. */
  match(name: string, proto: number, port: number, sport = -1): number {
    if (!this.built || this.count === 0) return -1;
    // once for the whole name (names from the wire and from DNS come lowercased already,
    // and then this is the same string), not once per label
    name = name.toLowerCase();
    let end = name.length;
    if (end > 0 && name.charCodeAt(end - 1) === 46) end--;
    let node: DomainNode | undefined = this.root;
    let best = -1;
    while (end > 0 && node) {
      const dot = name.lastIndexOf('.', end - 1);
      const label = name.slice(dot + 1, end);
      node = node.kids?.get(label);
      if (!node) break;
      if (dot >= 0) {
        // more labels remain to the left: a wildcard here matches
        if (node.wild) { const r = node.wild.match(proto, port, sport); if (r >= 0 && (best < 0 || r < best)) best = r; }
      } else if (node.exact) {
        const r = node.exact.match(proto, port, sport); if (r >= 0 && (best < 0 || r < best)) best = r;
      }
      end = dot;
    }
    return best;
  }
}
