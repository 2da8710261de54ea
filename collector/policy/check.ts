// `segwatch policy check FILE`: validate a policy, print each error as file:line:col.

import { fileURLToPath } from 'node:url';
import { formatPolicyError, loadPolicyFile } from './load.js';

/**
 * Check one policy file. Writes errors (one a line) to `err` and a one-line summary to
 * `out`; returns the exit code: 0 valid, 1 invalid.
 */
export async function policyCheck(file: string, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  // the checker reads the file itself every time: never a document the cache kept
  const r = await loadPolicyFile(file, { cacheDir: null });
  for (const e of r.errors) err(formatPolicyError(e));
  if (!r.policy) {
    err(`${file}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; policy refused`);
    return 1;
  }
  out(`${file}: ok (${r.policy.profiles().length} profiles)`);
  return 0;
}

/** Standalone: `node dist/collector/policy/check.js FILE...` (the CLI calls policyCheck). */
async function main(files: string[]): Promise<number> {
  if (files.length === 0) { console.error('usage: policy check FILE...'); return 2; }
  let code = 0;
  for (const f of files) code = Math.max(code, await policyCheck(f, (l) => console.log(l), (l) => console.error(l)));
  return code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((c) => { process.exitCode = c; });
}
