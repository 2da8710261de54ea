// Where the repository, its build and the shared captures are, for tests.

import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const capturesDir = resolve(repoRoot, '..', 'shared', 'captures');
/** The built CLI; `npm test` builds before running tap. */
export const cliPath = join(repoRoot, 'dist', 'collector', 'cli', 'main.js');

export function capture(rel: string): string {
  return join(capturesDir, rel);
}

export interface ManifestRow {
  file: string;
  bytes: number;
  format: string;
  linktype: string;
  packets: number;
  protocols: string[];
}

/** MANIFEST.tsv of the shared captures. */
export function manifest(): ManifestRow[] {
  const lines = readFileSync(join(capturesDir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const c = l.split('\t');
    return { file: c[0], bytes: Number(c[1]), format: c[2], linktype: c[3], packets: Number(c[5]), protocols: c[7].split(',') };
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built segwatch CLI (bounded in time). */
export function segwatch(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run build first`);
  // `run` keeps state in /var/lib/segwatch unless told otherwise: a test's run gets its own
  const ownState = args[0] === 'run' && !args.includes('--state-dir') && !opts.env?.SEGWATCH_STATE_DIR
    ? mkdtempSync(join(tmpdir(), 'segwatch-state-')) : null;
  try {
    const r = spawnSync(process.execPath, [cliPath, ...args], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 120_000,
      env: { ...process.env, ...(ownState ? { SEGWATCH_STATE_DIR: ownState } : {}), ...(opts.env ?? {}) },
      input: opts.input,
      maxBuffer: 512 * 1024 * 1024,
      cwd: repoRoot,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  } finally {
    if (ownState) rmSync(ownState, { recursive: true, force: true });
  }
}

/**
 * segwatch() without blocking this process: for tests whose receivers (a webhook, an API
 * client) live here and must answer while the CLI runs. Killed after timeoutMs.
 */
export function segwatchAsync(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run build first`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 1e7) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 1e7) stderr += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('exit', (code) => { clearTimeout(killer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/**
 * A test's `skip` option for a part this machine may lack. Under CI (CI set), where .ci/run
 * installs every part, nothing is skipped: a missing install step fails the test instead.
 */
export function skipUnless(ok: boolean, reason: string): false | string {
  return ok || process.env.CI ? false : reason;
}
