// Loading a policy file: YAML with positions, schema and semantic checks (every error
// of the file at once), then compilation. Nothing here throws on a bad policy.

import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { compilePolicy } from './compile.js';
import { Locator, dottedPath } from './locate.js';
import { makeSchemaValidator, schemaErrors, semanticErrors } from './validate.js';
import type { PolicyDoc } from './schema.js';
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

/** Parse, validate and compile policy text; `file` names it in errors. */
export function loadPolicyText(text: string, file: string): LoadResult {
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
  const semantic = semanticErrors(value, loc, new Set());
  const covered = new Set(semantic.map((e) => e.path));
  errors.push(...schemaErrors(validator, value, loc).filter((e) => !covered.has(e.path)), ...semantic);
  if (errors.length > 0) return { policy: null, errors: sortErrors(errors) };
  try {
    return { policy: compilePolicy(value as PolicyDoc, file), errors: [] };
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
