// Hot reload: keeps the last good policy in force, reloads on file change (debounced)
// and on reload() (wire SIGHUP to it); a bad file is refused with its errors.

import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadPolicyFile } from './load.js';
import type { CompiledPolicy, PolicyError } from './types.js';

export interface PolicyWatcherOptions {
  /** ms of quiet after a change before reloading; editors write in several steps. Default 150. */
  debounceMs?: number;
  /** exceptions.yaml in the state directory: loaded beside the policy when it exists. */
  exceptionsPath?: string;
  /** the policy cache (loadPolicyFile's cacheDir): left out, the default; null, none. */
  cacheDir?: string | null;
}

/**
 * Events: 'policy' (CompiledPolicy) after a good (re)load; 'errors' (PolicyError[]) when
 * a load fails: the previous policy stays current.
 */
export class PolicyWatcher extends EventEmitter {
  readonly path: string;
  private last: CompiledPolicy | null = null;
  /** when the policy in force was loaded (ms since epoch), and its file's SHA-256 and size */
  private lastLoad: { at: number; sha256: string; bytes: number } | null = null;
  private fsw: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounceMs: number;
  readonly exceptionsPath: string | undefined;
  private readonly cacheDir: string | null | undefined;
  private loading: Promise<boolean> | null = null;
  private again = false;
  private sighup: (() => void) | null = null;
  private closed = false;

  constructor(path: string, opts: PolicyWatcherOptions = {}) {
    super();
    this.path = resolve(path);
    this.debounceMs = opts.debounceMs ?? 150;
    this.exceptionsPath = opts.exceptionsPath;
    this.cacheDir = opts.cacheDir;
  }

  /**
   * First load, then watch the file. Resolves with the errors of the first load (empty
   * when it succeeded); the watcher runs either way so fixing the file brings it in.
   */
  async start(): Promise<PolicyError[]> {
    let errs: PolicyError[] = [];
    const onErr = (e: PolicyError[]) => { errs = e; };
    this.once('errors', onErr);
    await this.reload();
    this.off('errors', onErr);
    // watch the directory: editors and `mv` replace the file, which ends a watch on the file itself
    const name = basename(this.path);
    this.fsw = watch(dirname(this.path), { persistent: false }, (_ev, f) => {
      if (f === null || f.toString() === name) this.schedule();
    });
    this.fsw.on('error', (e) => this.emit('watchError', e));
    return errs;
  }

  /** The policy in force; throws only when no load has ever succeeded. */
  current(): CompiledPolicy {
    if (!this.last) throw new Error(`no valid policy loaded from ${this.path}`);
    return this.last;
  }

  /** The policy in force, or null before the first good load. */
  currentOrNull(): CompiledPolicy | null {
    return this.last;
  }

  /** When and what the policy in force was loaded from; null before the first good load. */
  loaded(): { at: number; sha256: string; bytes: number } | null {
    return this.lastLoad;
  }

  /** Reload now (the SIGHUP path). Resolves true when the new policy is in force. */
  reload(): Promise<boolean> {
    if (this.loading) {
      // a change during a load must not be lost: load once more afterwards
      this.again = true;
      return this.loading;
    }
    this.loading = this.doLoad().finally(() => {
      this.loading = null;
      if (this.again && !this.closed) { this.again = false; void this.reload(); }
    });
    return this.loading;
  }

  private async doLoad(): Promise<boolean> {
    const r = await loadPolicyFile(this.path, { exceptions: this.exceptionsPath, cacheDir: this.cacheDir });
    if (this.closed) return false;
    if (r.policy) {
      this.last = r.policy;
      this.lastLoad = { at: Date.now(), sha256: r.sha256 ?? '', bytes: r.bytes ?? 0 };
      this.emit('policy', r.policy);
      return true;
    }
    this.emit('errors', r.errors);
    return false;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; void this.reload(); }, this.debounceMs);
  }

  /** Reload on SIGHUP until close(). */
  listenSighup(): void {
    if (this.sighup) return;
    this.sighup = () => { void this.reload(); };
    process.on('SIGHUP', this.sighup);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.fsw?.close();
    this.fsw = null;
    if (this.sighup) process.off('SIGHUP', this.sighup);
    this.sighup = null;
  }
}
