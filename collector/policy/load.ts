// Loading a policy file: YAML with positions (`yaml`), the JSON Schema (ajv) and the
// semantic checks, every error of the file at once, each at its file:line:column; then
// compilation. Nothing here throws on a bad policy. A file's validated document is cached
// (cache.ts) by its bytes and the code that validated it.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Alias, Document, LineCounter } from 'yaml';
import { yaml } from './yaml-lazy.js';
import { compilePolicy } from './compile.js';
import { Locator, dottedPath } from './locate.js';
import { makeSchemaValidator, schemaErrors, semanticErrors, RuleMemo } from './validate.js';
import type { PolicyDoc } from './schema.js';
import type { CompiledPolicy, PolicyError } from './types.js';
import type { ExceptionDoc } from './exceptions.js';
import { codeIdentity, defaultPolicyCacheDir, policyCacheKey, readCachedPolicy, writeCachedPolicy } from './cache.js';

export interface LoadResult {
  /** null when there is any error. */
  policy: CompiledPolicy | null;
  /** sorted by line and column. */
  errors: PolicyError[];
  /** SHA-256 (hex) and size of the file's bytes, when loadPolicyFile read them. */
  sha256?: string;
  bytes?: number;
  /** loadPolicyFile: true when the validated document came from the policy cache, not the YAML. */
  cached?: boolean;
}

/** A policy larger than this is refused unread: 16 MiB is far beyond 10,000 rules (about 0.6 MB). */
export const MAX_POLICY_BYTES = 16 * 1024 * 1024;

/** Aliases `toJS` may expand: a few are normal, thousands are a "billion laughs" text. */
const MAX_ALIAS_COUNT = 100;


/**
 * Runs fn (synchronous) with process.env replaced by a plain copy of it, then puts it back.
 * yaml's parser reads process.env.LOG_TOKENS once per token, 256,000 times for a policy of
 * 10,000 rules, and each read of the real process.env asks the C environment: about 55 ms,
 * an eighth of the parse. Nothing else runs meanwhile (fn is synchronous), a read sees the
 * same values, and native code, which reads the C environment, is not affected.
 */
function withEnvCopy<T>(fn: () => T): T {
  const env = process.env;
  process.env = { ...env };
  try {
    return fn();
  } finally {
    process.env = env;
  }
}

/**
 * Parse, validate and compile policy text; `file` names it in errors. `extraExceptions`
 * (from exceptions.yaml) join the policy's own `exceptions:`.
 */
export function loadPolicyText(text: string, file: string, extraExceptions: readonly ExceptionDoc[] = []): LoadResult {
  const v = validatePolicyText(text, file);
  return 'errors' in v ? { policy: null, errors: v.errors } : compileValidated(v.doc, file, extraExceptions, v.memo);
}

/** The document of policy text when it is valid (as `doc.toJS()` gave it), else every error. */
function validatePolicyText(text: string, file: string): { doc: PolicyDoc; memo: RuleMemo } | { errors: PolicyError[] } {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  // YAML 1.2 core schema (the default): yes/no/on/off stay text, 0x1F is 31, 08 is 8
  const doc = withEnvCopy(() => parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false }));
  const errors: PolicyError[] = [];
  for (const e of doc.errors) {
    const lp = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    errors.push({ file, line: lp.line, col: lp.col, message: `YAML syntax: ${first}`, path: '' });
  }
  // the tree is unreliable after a syntax error: report those alone
  if (errors.length > 0) return { errors: sortErrors(errors) };
  const loc = new Locator(doc, lc, file);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    return { errors: [aliasError(doc, lc, file, e as Error)] };
  }
  if (value === null || value === undefined) {
    return { errors: [{ file, line: 1, col: 1, message: 'expected a policy (a mapping with version, segments, watch, default_profile, profiles), got an empty file', path: '' }] };
  }
  const validator = makeSchemaValidator();
  // where both speak about the same place the semantic check is the more specific
  const memo = new RuleMemo();
  const semantic = semanticErrors(value, loc, new Set(), memo);
  const covered = new Set(semantic.map((e) => e.path));
  errors.push(...schemaErrors(validator, value, loc).filter((e) => !covered.has(e.path)), ...semantic);
  if (errors.length > 0) return { errors: sortErrors(errors) };
  return { doc: value as PolicyDoc, memo };
}

/**
 * A validated document (parsed now, or from the cache) to the compiled policy, with the
 * extra exceptions joined in a copy: `doc` stays the policy's own, as the cache keeps it.
 */
function compileValidated(doc: PolicyDoc, file: string, extraExceptions: readonly ExceptionDoc[], memo?: RuleMemo): LoadResult {
  const full = extraExceptions.length ? { ...doc, exceptions: [...(doc.exceptions ?? []), ...extraExceptions] } : doc;
  try {
    return { policy: compilePolicy(full, file, memo), errors: [] };
  } catch (e) {
    // a validated document should always compile; say so rather than crash the collector
    return { policy: null, errors: [{ file, line: 1, col: 1, message: `internal error compiling the policy: ${(e as Error).message}`, path: dottedPath([]) }] };
  }
}

/**
 * Why toJS refused a document that parsed: an alias without its anchor, or more alias
 * expansions than MAX_ALIAS_COUNT. Placed at that alias, or at the first one.
 */
function aliasError(doc: Document, lc: LineCounter, file: string, e: Error): PolicyError {
  const aliases: Alias[] = [];
  yaml().visit(doc, { Alias: (_key, node) => { aliases.push(node); } });
  const unknown = aliases.find((a) => a.resolve(doc) === undefined);
  const at = (a: Alias | undefined) => lc.linePos(a?.range?.[0] ?? 0);
  if (unknown) {
    const { line, col } = at(unknown);
    return { file, line, col, message: `YAML syntax: unknown alias "*${unknown.source}": expected its anchor "&${unknown.source}" earlier in the file`, path: '' };
  }
  const { line, col } = at(aliases[0]);
  if (aliases.length > 0) {
    return { file, line, col, message: `expected at most ${MAX_ALIAS_COUNT} expansions of YAML aliases (*name) in all, got more (${e.message})`, path: '' };
  }
  return { file, line, col, message: `YAML: ${e.message}`, path: '' };
}

/**
 * exceptions.yaml (in the state directory; acknowledgements through the API write it): a
 * mapping with one key, `exceptions:`, a list of entries as in the policy. Checked by the
 * policy's own schema and checks, with this file's lines and columns.
 */
export function loadExceptionsText(text: string, file: string): { list: ExceptionDoc[]; errors: PolicyError[] } {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: PolicyError[] = doc.errors.map((e) => {
    const lp = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    return { file, line: lp.line, col: lp.col, message: `YAML syntax: ${e.message.split('\n')[0]}`, path: '' };
  });
  if (errors.length) return { list: [], errors };
  const loc = new Locator(doc, lc, file);
  const value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  if (value === null || value === undefined) return { list: [], errors: [] };
  if (typeof value !== 'object' || Array.isArray(value)) return { list: [], errors: [loc.error([], 'expected a mapping with one key, exceptions: (a list)')] };
  for (const k of Object.keys(value)) if (k !== 'exceptions') errors.push(loc.error([k], `unknown key "${k}"; expected only exceptions`, true));
  const list = (value as { exceptions?: unknown }).exceptions ?? [];
  // the smallest valid policy around the list: its schema and checks judge each entry
  const probe = { version: 1, segments: { s: ['10.0.0.0/8'] }, watch: ['s'], default_profile: 'p', profiles: { p: { allow: [] } }, exceptions: list };
  const mine = (e: PolicyError) => e.path.startsWith('exceptions');
  errors.push(...schemaErrors(makeSchemaValidator(), probe, loc).filter(mine), ...semanticErrors(probe, loc, new Set()).filter(mine));
  return errors.length ? { list: [], errors: sortErrors(errors) } : { list: list as ExceptionDoc[], errors: [] };
}

export interface LoadFileOptions {
  /** exceptions.yaml: loaded beside the policy when it exists. */
  exceptions?: string;
  /**
   * The policy cache (cache.ts): left out, defaultPolicyCacheDir(process.env); null, none
   * (`policy check` judges the file itself, every time).
   */
  cacheDir?: string | null;
}

/**
 * Read and load a policy file (and exceptions.yaml when `exceptions` names one that exists);
 * a read error comes back as a PolicyError too. A policy whose validated document is in the
 * cache (same bytes, same segwatch) is compiled from it without parsing the YAML again.
 */
export async function loadPolicyFile(path: string, opts: LoadFileOptions = {}): Promise<LoadResult> {
  let extra: ExceptionDoc[] = [];
  if (opts.exceptions) {
    let text: string | null = null;
    try {
      text = await readFile(opts.exceptions, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        return { policy: null, errors: [{ file: opts.exceptions, line: 0, col: 0, message: `cannot read the exceptions: ${(e as Error).message}`, path: '' }] };
      }
    }
    if (text !== null) {
      const r = loadExceptionsText(text, opts.exceptions);
      if (r.errors.length) return { policy: null, errors: r.errors };
      extra = r.list;
    }
  }
  let raw: Buffer;
  try {
    const st = await stat(path);
    if (st.size > MAX_POLICY_BYTES) {
      return { policy: null, errors: [{ file: path, line: 0, col: 0, message: `expected a policy file of at most ${MAX_POLICY_BYTES} bytes, got ${st.size}`, path: '' }] };
    }
    raw = await readFile(path);
  } catch (e) {
    return { policy: null, errors: [{ file: path, line: 0, col: 0, message: `cannot read the policy: ${(e as Error).message}`, path: '' }] };
  }
  const sums = { sha256: createHash('sha256').update(raw).digest('hex'), bytes: raw.length };
  const cacheDir = opts.cacheDir === undefined ? defaultPolicyCacheDir() : opts.cacheDir;
  const codeId = cacheDir ? await codeIdentity() : null;
  const key = cacheDir && codeId ? policyCacheKey(sums.sha256, codeId) : null;
  if (cacheDir && key) {
    const doc = await readCachedPolicy(cacheDir, key);
    // an entry that does not compile is parsed afresh below, and written over
    const hit = doc ? compileValidated(doc as unknown as PolicyDoc, path, extra) : null;
    if (hit?.policy) return { ...hit, ...sums, cached: true };
  }
  const v = validatePolicyText(raw.toString('utf8'), path);
  if ('errors' in v) return { policy: null, errors: v.errors, ...sums, cached: false };
  const r = compileValidated(v.doc, path, extra, v.memo);
  if (r.policy && cacheDir && key) await writeCachedPolicy(cacheDir, key, v.doc);
  return { ...r, ...sums, cached: false };
}

/** "file:line:col: message" (as compilers print, so editors can jump to it). */
export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}${e.path ? ` (at ${e.path})` : ''}`;
}

function sortErrors(errs: PolicyError[]): PolicyError[] {
  return errs.sort((a, b) => a.line - b.line || a.col - b.col);
}
