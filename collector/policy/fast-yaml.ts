// The fast first reading of a policy: plain values, no positions, for a plain subset of
// YAML only.
//
// Why a reader of our own: the `yaml` package keeps every node's position, which the
// error messages need (file:line:column), but reading a 10,000-rule policy with it takes
// about 0.9 s. js-yaml was tried too: about 10x faster warm, but 150-300 ms in a fresh
// process, still most of the load budget, and it accepts layouts `yaml` refuses (flow
// collections and quoted text over badly indented lines, comments glued to tokens, "- -"
// with empty items), each needing a guard. This reader takes only the layout policies are
// written in and gives up (null) on everything else, and load.ts then reads the text
// with `yaml`, which also reports any error. So a policy in this subset costs one quick
// pass; any other text costs what it did before, with the same result.
//
// The subset:
// - lines: blank and comment-only lines anywhere; indentation with spaces; LF or CRLF;
//   no tab, BOM, lone CR, directive (%), document marker except one leading `---` line;
// - block mappings `key: value` and `key:` with a block below; block sequences `- item`
//   (also at the indentation of the key above, and `- key: value` compact mappings);
// - a value on its line: a plain scalar (one line), a quoted scalar (one line, no
//   backslash escape and no '' in single quotes), or a flow collection closed on the
//   same line ({k: v, ...} and [a, ...], nested; keys plain or quoted, ": " after them);
// - keys: plain scalars starting with a letter, digit or "_"; duplicates, null keys and
//   "__proto__" give up;
// - no anchor, alias, tag, block scalar (| >), explicit key (?), multi-line scalar.
// Plain scalars resolve by our copy of `yaml`'s YAML 1.2 core schema (coreScalar).
// test/unit/policy/fast-yaml.test.ts holds this reader to `yaml` on every policy of the
// repo, tricky inputs and many thousands of mutated ones.

const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const INT_HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** What coreScalar returns for text that stays a string. */
export const NOT_CORE: unique symbol = Symbol('string');

/**
 * A plain scalar as the `yaml` package's core schema reads it (yaml/dist/schema/core and
 * common/null.js: the first tag whose test matches, in that order), or NOT_CORE for a string.
 */
export function coreScalar(s: string): unknown {
  // every core scalar starts with one of ~ n N t T f F 0-9 + - . (or is empty)
  const c = s.length === 0 ? 0 : s.charCodeAt(0);
  if (!(c === 0 || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 126 ||
    c === 110 || c === 78 || c === 116 || c === 84 || c === 102 || c === 70)) return NOT_CORE;
  if (NULL_RE.test(s)) return null;
  if (BOOL_RE.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT_OCT_RE.test(s)) return parseInt(s.substring(2), 8);
  if (INT_RE.test(s)) return parseInt(s, 10);
  if (INT_HEX_RE.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN_RE.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP_RE.test(s) || FLOAT_RE.test(s)) return parseFloat(s);
  return NOT_CORE;
}

/** Thrown (and caught in fastParseYaml) where the text leaves the subset. */
class GiveUp {}
const GIVE_UP = new GiveUp();
function giveUp(): never { throw GIVE_UP; }

const SPACE = 32, HASH = 35, DASH = 45, COLON = 58, COMMA = 44, DQUOTE = 34, SQUOTE = 39, BACKSLASH = 92;
const LBRACKET = 91, RBRACKET = 93, LBRACE = 123, RBRACE = 125;

/**
 * Texts that leave the subset before any line is read: a character outside YAML's
 * printable set (and tab, NEL, BOM, which `yaml` treats specially), a CR not before LF,
 * a directive, a document end marker.
 */
const ODD_TEXT_RE = /[^\n\r\x20-\x7E\xA0-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD\u{10000}-\u{10FFFF}]|\r(?!\n)|^%|^\.\.\./mu;
const MARKER_RE = /^---/gm;
/** Only comments and blank lines before a single leading `---` line. */
const LEADING_MARKER_RE = /^(?:[ ]*(?:#[^\n]*)?\n)*---[ ]*\r?\n/;

/** `yaml` refuses an implicit key of over 1024 characters: give up well before. */
const MAX_KEY = 1000;

/**
 * Content lines as [start, end, indent] triples (end excludes the line break and a CR
 * before it), then a sentinel of indentation -1: blank and comment-only lines are left
 * out, since no multi-line scalar is read here.
 */
function contentLines(t: string, from: number): number[] {
  const out: number[] = [];
  const n = t.length;
  let pos = from;
  while (pos < n) {
    let end = t.indexOf('\n', pos);
    if (end < 0) end = n;
    const next = end + 1;
    if (end > pos && t.charCodeAt(end - 1) === 13) end--;
    let i = pos;
    while (i < end && t.charCodeAt(i) === SPACE) i++;
    if (i < end && t.charCodeAt(i) !== HASH) out.push(pos, end, i - pos);
    pos = next;
  }
  out.push(n, n, -1);
  return out;
}

class Reader {
  /** the current content line: an index into `lines`, in steps of 3. */
  li = 0;
  /** one flow reader for every line value. */
  private flow: FlowReader;

  /** `lines` ends with a sentinel line of indentation -1, so "no more lines" needs no test of its own. */
  constructor(readonly t: string, readonly lines: number[]) {
    this.flow = new FlowReader(t, t.includes('\\'));
  }

  get done(): boolean { return this.lines[this.li + 2] < 0; }

  /** Does the current line open a sequence item ("- " or a lone "-")? Its indentation is `ind` (>= 0). */
  private isItem(ind: number): boolean {
    const L = this.lines, t = this.t;
    const s = L[this.li] + ind;
    return t.charCodeAt(s) === DASH && (s + 1 === L[this.li + 1] || t.charCodeAt(s + 1) === SPACE);
  }

  /** A block node on the lines from here, indented more than `parent`. */
  block(parent: number): unknown {
    const ind = this.lines[this.li + 2];
    if (ind <= parent) giveUp();
    return this.isItem(ind) ? this.seq(ind) : this.map(ind, this.lines[this.li] + ind);
  }

  /** Items "- ..." at indentation `ind` (a key after them, at the same indentation, is the caller's). */
  seq(ind: number): unknown[] {
    const t = this.t, L = this.lines, out: unknown[] = [];
    while (L[this.li + 2] === ind && this.isItem(ind)) {
      const e = L[this.li + 1];
      let i = L[this.li] + ind + 1;
      while (i < e && t.charCodeAt(i) === SPACE) i++;
      // "-" alone (or before a comment): the item is the block below
      if (i === e || t.charCodeAt(i) === HASH) { this.li += 3; out.push(this.block(ind)); continue; }
      const c = t.charCodeAt(i);
      if (c === LBRACE || c === LBRACKET || c === DQUOTE || c === SQUOTE) { out.push(this.flow.lineValue(i, e)); this.li += 3; }
      else if (keyColon(t, i, e) >= 0) out.push(this.map(i - L[this.li], i));
      else { out.push(plainValue(t, i, e)); this.li += 3; }
      if (L[this.li + 2] > ind) giveUp();
    }
    return out;
  }

  /** Entries "key: ..." at indentation `ind`, the first one's key starting at `first`. */
  map(ind: number, first: number): Record<string, unknown> {
    const t = this.t, L = this.lines, out: Record<string, unknown> = {};
    let start = first;
    for (;;) {
      const e = L[this.li + 1];
      const colon = keyColon(t, start, e);
      if (colon < 0 || colon - start > MAX_KEY) giveUp();
      const key = plainKey(t, start, colon);
      if (Object.hasOwn(out, key)) giveUp();
      let i = colon + 1;
      while (i < e && t.charCodeAt(i) === SPACE) i++;
      if (i === e || t.charCodeAt(i) === HASH) {
        // the value is the block below; a sequence may sit at the key's own indentation
        this.li += 3;
        out[key] = L[this.li + 2] === ind && this.isItem(ind) ? this.seq(ind) : this.block(ind);
      } else {
        const c = t.charCodeAt(i);
        out[key] = c === LBRACE || c === LBRACKET || c === DQUOTE || c === SQUOTE ? this.flow.lineValue(i, e) : plainValue(t, i, e);
        this.li += 3;
        if (L[this.li + 2] > ind) giveUp();
      }
      if (L[this.li + 2] !== ind || this.isItem(ind)) return out;
      start = L[this.li] + ind;
    }
  }
}

/** The ": " (or ":" at the line end) after a plain key starting at i, or -1 (none, or a comment first). */
function keyColon(t: string, i: number, e: number): number {
  for (let j = skipTo(BLOCK_RUN, t, i); j < e; j = skipTo(BLOCK_RUN, t, j + 1)) {
    if (t.charCodeAt(j) === COLON) {
      if (j + 1 === e || t.charCodeAt(j + 1) === SPACE) return j;
    } else if (j > i && t.charCodeAt(j - 1) === SPACE) return -1;
  }
  return -1;
}

/**
 * Runs of characters that scanning passes over, up to the next one to look at (or the
 * line's end). Scanning in the regular expression engine: much of a load runs before the
 * JIT has warmed up, and a native scan costs the same cold or warm.
 */
const BLOCK_RUN = /[^:#\n]*/y;
const FLOW_RUN = /[^:#,[\]{}\n]*/y;

/** Where the run of `re` from `from` ends (test, not exec: no match object to allocate). */
function skipTo(re: RegExp, t: string, from: number): number {
  re.lastIndex = from;
  re.test(t);
  return re.lastIndex;
}

/** May a plain scalar start with this character here? Letters, digits and a few safe signs. */
function plainStart(t: string, i: number): boolean {
  const c = t.charCodeAt(i);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  // _ . / ~ +, and - before a digit or dot (a negative number)
  if (c === 95 || c === 46 || c === 47 || c === 126 || c === 43) return true;
  if (c === DASH) { const d = t.charCodeAt(i + 1); return (d >= 48 && d <= 57) || d === 46; }
  return false;
}

/** A plain key t[i, colon) as `yaml` names it in the JS object: String() of its core value. */
function plainKey(t: string, i: number, colon: number): string {
  let k = colon;
  while (k > i && t.charCodeAt(k - 1) === SPACE) k--;
  const c = t.charCodeAt(i);
  if (k === i || !((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) giveUp();
  const s = t.slice(i, k);
  const v = coreScalar(s);
  if (v === NOT_CORE) { if (s === '__proto__') giveUp(); return s; }
  if (v === null) giveUp();
  return String(v);
}

/** A plain scalar from i to the line end (or a comment): no ": " in it. */
function plainValue(t: string, i: number, e: number): unknown {
  if (!plainStart(t, i)) giveUp();
  let j = skipTo(BLOCK_RUN, t, i);
  for (; j < e; j = skipTo(BLOCK_RUN, t, j + 1)) {
    if (t.charCodeAt(j) === HASH) { if (t.charCodeAt(j - 1) === SPACE) break; }
    else if (j + 1 === e || t.charCodeAt(j + 1) === SPACE) giveUp();
  }
  if (j > e) j = e;
  let k = j;
  while (k > i && t.charCodeAt(k - 1) === SPACE) k--;
  const s = t.slice(i, k);
  const v = coreScalar(s);
  return v === NOT_CORE ? s : v;
}

/** Flow collections and quoted scalars within t[p, e) (one line). */
class FlowReader {
  p = 0;
  e = 0;
  /** `backslashes`: the text has a backslash somewhere (else quoted text needs no escape check). */
  constructor(readonly t: string, readonly backslashes: boolean) {}

  /** A flow collection or quoted scalar from i, filling the line up to e (a comment may follow). */
  lineValue(i: number, e: number): unknown {
    const t = this.t;
    this.p = i;
    this.e = e;
    const v = this.node();
    const after = this.p;
    let p = after;
    while (p < e && t.charCodeAt(p) === SPACE) p++;
    if (p < e && !(t.charCodeAt(p) === HASH && p > after)) giveUp();
    return v;
  }

  // (spaces never run past the line: it ends with a line break or the text's end)
  node(): unknown {
    const t = this.t, c = t.charCodeAt(this.p);
    if (c === LBRACE) {
      this.p++;
      const out: Record<string, unknown> = {};
      while (t.charCodeAt(this.p) === SPACE) this.p++;
      if (t.charCodeAt(this.p) === RBRACE) { this.p++; return out; }
      for (;;) {
        while (t.charCodeAt(this.p) === SPACE) this.p++;
        const key = this.key();
        if (t.charCodeAt(this.p) !== COLON || t.charCodeAt(this.p + 1) !== SPACE) giveUp();
        this.p += 2;
        while (t.charCodeAt(this.p) === SPACE) this.p++;
        if (Object.hasOwn(out, key)) giveUp();
        out[key] = this.node();
        while (t.charCodeAt(this.p) === SPACE) this.p++;
        const d = t.charCodeAt(this.p++);
        if (d === RBRACE) return out;
        if (d !== COMMA) giveUp();
      }
    }
    if (c === LBRACKET) {
      this.p++;
      const out: unknown[] = [];
      while (t.charCodeAt(this.p) === SPACE) this.p++;
      if (t.charCodeAt(this.p) === RBRACKET) { this.p++; return out; }
      for (;;) {
        while (t.charCodeAt(this.p) === SPACE) this.p++;
        out.push(this.node());
        while (t.charCodeAt(this.p) === SPACE) this.p++;
        const d = t.charCodeAt(this.p++);
        if (d === RBRACKET) return out;
        if (d !== COMMA) giveUp();
      }
    }
    if (c === DQUOTE || c === SQUOTE) return this.quoted(c);
    return this.plain();
  }

  /** A flow mapping key: a plain scalar (as plainKey) or quoted text; the reader then sits on its ":". */
  private key(): string {
    const t = this.t, c = t.charCodeAt(this.p);
    const start = this.p;
    if (c === DQUOTE || c === SQUOTE) {
      const s = this.quoted(c);
      if (s === '__proto__' || this.p - start > MAX_KEY) giveUp();
      return s;
    }
    const s = this.p;
    const end = this.plainEnd();
    if (end - s > MAX_KEY) giveUp();
    let k = end;
    while (k > s && t.charCodeAt(k - 1) === SPACE) k--;
    this.p = k;
    return plainKey(t, s, k);
  }

  /** Quoted text without escapes, closed on this line. */
  private quoted(q: number): string {
    const t = this.t, s = this.p + 1;
    const j = t.indexOf(q === DQUOTE ? '"' : "'", s);
    if (j < 0 || j >= this.e || (q === SQUOTE && t.charCodeAt(j + 1) === SQUOTE)) giveUp();
    if (q === DQUOTE && this.backslashes) {
      for (let k = s; k < j; k++) if (t.charCodeAt(k) === BACKSLASH) giveUp();
    }
    this.p = j + 1;
    return t.slice(s, j);
  }

  /**
   * Where a flow plain scalar from here ends: before , [ ] { } or ": "; gives up on a
   * ":" before a flow indicator, a comment, or the line's end inside a collection.
   */
  private plainEnd(): number {
    const t = this.t;
    if (!plainStart(t, this.p)) giveUp();
    for (let j = skipTo(FLOW_RUN, t, this.p); ; j = skipTo(FLOW_RUN, t, j + 1)) {
      if (j >= this.e) giveUp();
      const d = t.charCodeAt(j);
      if (d === COLON) {
        const x = j + 1 < this.e ? t.charCodeAt(j + 1) : SPACE;
        if (x === SPACE) return j;
        if (x === COMMA || x === LBRACKET || x === RBRACKET || x === LBRACE || x === RBRACE) giveUp();
      } else if (d === HASH) {
        if (t.charCodeAt(j - 1) === SPACE) giveUp();
      } else return j;
    }
  }

  private plain(): unknown {
    const t = this.t, s = this.p;
    const end = this.plainEnd();
    if (t.charCodeAt(end) === COLON) giveUp();
    let k = end;
    while (k > s && t.charCodeAt(k - 1) === SPACE) k--;
    this.p = end;
    const str = t.slice(s, k);
    const v = coreScalar(str);
    return v === NOT_CORE ? str : v;
  }
}

/**
 * The policy text as plain values, exactly as `parseDocument(text).toJS()` gives them,
 * or null when the text leaves the subset above: the caller then takes the `yaml` path,
 * which also reports any error.
 */
export function fastParseYaml(text: string): { value: unknown } | null {
  if (ODD_TEXT_RE.test(text)) return null;
  let from = 0;
  const markers = text.match(MARKER_RE)?.length ?? 0;
  if (markers > 1) return null;
  if (markers === 1) {
    const m = LEADING_MARKER_RE.exec(text);
    if (m === null) return null;
    from = m[0].length;
  }
  const r = new Reader(text, contentLines(text, from));
  try {
    const value = r.block(-1);
    if (!r.done) return null;
    return { value };
  } catch {
    // GIVE_UP, or anything else (a stack overflow on absurd nesting): `yaml` decides
    return null;
  }
}
