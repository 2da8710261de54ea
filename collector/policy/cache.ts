// The policy cache: validated policy documents on disk, by content, so a policy that did not
// change is not parsed again (yaml's parser and its garbage are most of a big policy's load).
// Every failure here is a miss: the cache can make a load faster, never make it fail.

import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

/** Changes when the layout of an entry or of the key changes. */
const FORMAT = 'segwatch-policy-cache/1';
/** Entries kept; a site has one policy, a few more cover tests, benches and edits in flight. */
export const MAX_POLICY_CACHE_ENTRIES = 8;
const ENTRY = /^[0-9a-f]{64}\.json$/;

/**
 * Where validated policies are cached: `<stateDir>/cache` when a state directory is in use,
 * else `$XDG_CACHE_HOME/segwatch` or `$HOME/.cache/segwatch`; null (no cache) when none is
 * known or SEGWATCH_POLICY_CACHE is off, 0 or false.
 */
export function defaultPolicyCacheDir(env: NodeJS.ProcessEnv = process.env, stateDir?: string): string | null {
  if (/^(off|0|false)$/i.test(env.SEGWATCH_POLICY_CACHE?.trim() ?? '')) return null;
  if (stateDir) return join(stateDir, 'cache');
  // the XDG spec ignores a relative XDG_CACHE_HOME; a relative HOME would move with the cwd
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'segwatch');
  if (env.HOME && isAbsolute(env.HOME)) return join(env.HOME, '.cache', 'segwatch');
  return null;
}

/**
 * A hash of the modules of `dir` named `*<ext>` (name and bytes): built, the `.js` files
 * beside this one; run from sources (tap), the `.ts` files. These decide what is valid and
 * the shape of the validated document, so any change to them is a new identity.
 */
export async function hashModules(dir: string, ext: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => extname(n) === ext && !n.endsWith('.d.ts')).sort();
  const h = createHash('sha256');
  for (const n of names) {
    const bytes = await readFile(join(dir, n));
    h.update(`${n}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest('hex');
}

let identity: Promise<string | null> | undefined;

/**
 * The code identity of this segwatch: its policy modules and the `yaml` package's version
 * (which reads the text into the document). Computed once per process; null (no cache)
 * when the modules cannot be read.
 */
export function codeIdentity(): Promise<string | null> {
  identity ??= (async () => {
    const self = fileURLToPath(import.meta.url);
    const here = dirname(self), ext = extname(self);
    const yamlVersion = (createRequire(import.meta.url)('yaml/package.json') as { version: string }).version;
    // the modules outside this directory whose code the checks run (address parsing, the
    // anomaly kinds, the detector settings' names): a change there is a new identity too
    const h = createHash('sha256');
    for (const m of POLICY_IMPORTS) h.update(`${m}\0`).update(await readFile(join(here, `${m}${ext}`)));
    return `${await hashModules(here, ext)} ${h.digest('hex')} yaml@${yamlVersion}`;
  })().catch(() => null);
  return identity;
}

/** Modules outside collector/policy that the policy modules import (see codeIdentity). */
const POLICY_IMPORTS = ['../types', '../decode/addr', '../detect/settings', '../inventory/types'];

/**
 * The entry's key: the format, the code identity and the policy's bytes, by their SHA-256
 * (hex), which the loader computes for every file anyway (LoadResult.sha256).
 */
export function policyCacheKey(policySha256: string, codeId: string): string {
  return createHash('sha256').update(`${FORMAT}\0${codeId}\0${policySha256}`).digest('hex');
}

const entryPath = (dir: string, key: string) => join(dir, `${key}.json`);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The directory as this process made it: a directory of its own user that no one else may
 * write. An entry is a policy as good as validated, so it is read only from such a place.
 */
async function trusted(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => null);
  if (!st?.isDirectory() || (st.mode & 0o022) !== 0) return false;
  return process.getuid === undefined || st.uid === process.getuid();
}

/**
 * The validated document stored under `key`, or null. An entry that cannot be read or is
 * not a JSON object is removed (a crash, a full disk, a hand edit), so it is written anew.
 */
export async function readCachedPolicy(dir: string, key: string): Promise<Record<string, unknown> | null> {
  if (!(await trusted(dir))) return null;
  const file = entryPath(dir, key);
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (isObject(value)) {
      // the mtime orders entries for pruning: a policy in use stays
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return value;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
  }
  await rm(file, { force: true }).catch(() => undefined);
  return null;
}

/**
 * Store a validated document under `key`: only a JSON object that JSON gives back as it is
 * (YAML's .inf, .nan and -0 do not survive JSON), written whole (a temporary file renamed),
 * then the oldest entries beyond MAX_POLICY_CACHE_ENTRIES removed. True when stored.
 */
export async function writeCachedPolicy(dir: string, key: string, value: unknown): Promise<boolean> {
  if (!isObject(value)) return false;
  let json: string;
  try {
    json = JSON.stringify(value);
    if (!isDeepStrictEqual(JSON.parse(json), value)) return false;
  } catch {
    return false; // a BigInt or a cycle
  }
  try {
    await makeDirs(dir);
    if (!(await trusted(dir))) return false;
    const file = entryPath(dir, key);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      // wx: never through a file (or link) left at that name
      await writeFile(tmp, json, { mode: 0o600, flag: 'wx' });
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    await prune(dir);
    return true;
  } catch {
    return false;
  }
}

async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => ENTRY.test(n));
  if (names.length <= MAX_POLICY_CACHE_ENTRIES) return;
  const aged = await Promise.all(names.map(async (n) => ({ n, mtime: (await stat(join(dir, n)).catch(() => null))?.mtimeMs ?? 0 })));
  aged.sort((a, b) => b.mtime - a.mtime);
  for (const { n } of aged.slice(MAX_POLICY_CACHE_ENTRIES)) await rm(join(dir, n), { force: true });
}

/**
 * mkdir -p with mode 0700 for each level made (XDG's rule for a cache directory; a state
 * directory made here first, before the state store, is closed the same way), one level at a
 * time and bounded: Node's recursive mkdir never returns under /proc.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); missing.length < 64; d = dirname(d)) {
    if (await lstat(d).then(() => true, () => false)) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) await mkdir(d, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
}
