// The judging thread yields to the threads that read the kernel's buffers. On two cores a
// burst of NetFlow/IPFIX datagrams or frames finds three busy threads (the sender, the
// receiver or capture thread, the judge); at equal priority the kernel's socket buffer (4 MiB
// here, about 30 ms of a 2M records/s stream) overflows whenever the reader waits a time
// slice, while segwatch's own queue behind it holds seconds. With the judge a few nice levels
// lower, the reader runs first whenever it has work and the judge catches up after.

import { getPriority, setPriority } from 'node:os';

export interface NiceOutcome { from: number; to: number }

/**
 * Adds `nice` to the calling thread's nice value (Linux keeps one per thread, and
 * setpriority on the process id reaches only the main thread). Call it from the main thread
 * after the reader threads are running: a thread starts with its creator's value. Raising
 * one's own nice needs no privilege; null when nothing changed or the platform refused.
 */
export function lowerJudgePriority(nice: number): NiceOutcome | null {
  if (!(nice > 0) || process.platform !== 'linux') return null;
  try {
    const from = getPriority(process.pid);
    const to = Math.min(19, from + nice);
    if (to === from) return null;
    setPriority(process.pid, to);
    return { from, to: getPriority(process.pid) };
  } catch {
    return null;
  }
}
