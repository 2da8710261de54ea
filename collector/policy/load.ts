// Loading a policy file: YAML with positions, schema and semantic checks (every error
// of the file at once), then compilation. Nothing here throws on a bad policy.
//
// Two readings. The fast one (fast-yaml.ts: plain values of a plain YAML subset, a
// yes/no schema check, the same semantic checks and compiler) serves a policy in which it
// finds nothing wrong; that is a 10,000-rule policy in about a tenth of the time. The
// positional one (`yaml`, ajv) is taken whenever the fast one gives up or finds anything
// at all, and alone reports errors, with their places. Both read the same values, so the
// result is the same either way.

import { readFile, stat } from 'node:fs/promises';
import { compilePolicy } from './compile.js';
import { Locator, dottedPath } from './locate.js';
import { makeSchemaValidator, schemaErrors, semanticErrors, RuleMemo, type ErrorPlacer } from './validate.js';
import { fastParseYaml } from './fast-yaml.js';
import { makeSchemaCheck } from './schema-check.js';
import type { PolicyDoc } from './schema.js';
import { POLICY_SCHEMA } from './schema-document.js';
import { yaml } from './lazy-modules.js';
import type { CompiledPolicy, PolicyError } from './types.js';

export interface LoadResult {
  /** null when there is any error. */
  policy: CompiledPolicy | null;
  /** sorted by line and column. */
  errors: PolicyError[];
}

/** A policy larger than this is refused unread: 16 MiB is far beyond 10,000 rules (about 0.6 MB). */
export const MAX_POLICY_BYTES = 16 * 1024 * 1024;

let validator: ReturnType<typeof makeSchemaValidator> | null = null;
/** The fast yes/no schema check; null if it cannot handle the schema (then ajv decides). */
let quickCheck: ((v: unknown) => boolean) | null | undefined;

function schemaValid(value: unknown): boolean {
  if (quickCheck === undefined) quickCheck = makeSchemaCheck(POLICY_SCHEMA);
  if (quickCheck !== null) return quickCheck(value);
  validator ??= makeSchemaValidator();
  return validator(value);
}

/** Parse, validate and compile policy text; `file` names it in errors. */
export function loadPolicyText(text: string, file: string): LoadResult {
  return fastLoad(text, file) ?? positionalLoad(text, file);
}

/** Semantic errors of the fast reading only need counting: their places come from the second. */
const UNPLACED: ErrorPlacer = { error: (_path, message) => ({ file: '', line: 0, col: 0, message, path: '' }) };
const NO_SKIP: ReadonlySet<string> = new Set();

/** The compiled policy when the fast reading finds no problem at all, else null. */
export function fastLoad(text: string, file: string): LoadResult | null {
  const parsed = fastParseYaml(text);
  if (parsed === null || parsed.value === null || parsed.value === undefined) return null;
  const value = parsed.value;
  try {
    const memo = new RuleMemo();
    if (!schemaValid(value) || semanticErrors(value, UNPLACED, NO_SKIP, memo).length > 0) return null;
    return { policy: compilePolicy(value as PolicyDoc, file, memo), errors: [] };
  } catch {
    // whatever went wrong, the positional path meets it too and reports it
    return null;
  }
}

/** The reading with positions: every error of the file, each with its line and column. */
export function positionalLoad(text: string, file: string): LoadResult {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const errors: PolicyError[] = [];
  for (const e of doc.errors) {
    const lp = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    errors.push({ file, line: lp.line, col: lp.col, message: `YAML syntax: ${first}`, path: '' });
  }
  // the tree is unreliable after a syntax error: report those alone
  if (errors.length > 0) return { policy: null, errors: sortErrors(errors) };
  const loc = new Locator(doc, lc, file);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) {
    return { policy: null, errors: [{ file, line: 1, col: 1, message: 'expected a policy (a mapping with version, segments, watch, default_profile, profiles), got an empty file', path: '' }] };
  }
  validator ??= makeSchemaValidator();
  // where both speak about the same place the semantic check is the more specific
  const memo = new RuleMemo();
  const semantic = semanticErrors(value, loc, new Set(), memo);
  const covered = new Set(semantic.map((e) => e.path));
  errors.push(...schemaErrors(validator, value, loc).filter((e) => !covered.has(e.path)), ...semantic);
  if (errors.length > 0) return { policy: null, errors: sortErrors(errors) };
  try {
    return { policy: compilePolicy(value as PolicyDoc, file, memo), errors: [] };
  } catch (e) {
    // a validated document should always compile; say so rather than crash the collector
    return { policy: null, errors: [{ file, line: 1, col: 1, message: `internal error compiling the policy: ${(e as Error).message}`, path: dottedPath([]) }] };
  }
}

/** Read and load a policy file; a read error comes back as a PolicyError too. */
export async function loadPolicyFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    const st = await stat(path);
    if (st.size > MAX_POLICY_BYTES) {
      return { policy: null, errors: [{ file: path, line: 0, col: 0, message: `expected a policy file of at most ${MAX_POLICY_BYTES} bytes, got ${st.size}`, path: '' }] };
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { policy: null, errors: [{ file: path, line: 0, col: 0, message: `cannot read the policy: ${(e as Error).message}`, path: '' }] };
  }
  return loadPolicyText(text, path);
}

/** "file:line:col: message" (as compilers print, so editors can jump to it). */
export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}${e.path ? ` (at ${e.path})` : ''}`;
}

function sortErrors(errs: PolicyError[]): PolicyError[] {
  return errs.sort((a, b) => a.line - b.line || a.col - b.col);
}
