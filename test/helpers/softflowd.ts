// softflowd as a real NetFlow/IPFIX exporter in tests and the bench.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Asks softflowd's control socket for its statistics until done(). In -r mode softflowd stops
 * between batches of packets until its control socket is used, so a run from a file needs this.
 */
export async function pokeSoftflowd(ctl: string, done: () => boolean): Promise<void> {
  while (!done()) {
    await new Promise<void>((res) => {
      const s = connect(ctl);
      s.on('connect', () => s.end('statistics\n'));
      s.on('data', () => {});
      s.on('close', () => res());
      s.on('error', () => setTimeout(res, 5));
    });
  }
}

/** A UDP port free on 127.0.0.1 now (bound and released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Runs softflowd (args must include -r FILE and -c CTL) to its end, poking its control socket
 * meanwhile; killed after timeoutMs. Returns the records it says it exported, and its output.
 */
export async function runSoftflowd(args: readonly string[], ctl: string, timeoutMs = 60_000): Promise<{ records: number; log: string }> {
  const c = spawn('softflowd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  c.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  c.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  let done = false;
  const exited = new Promise<number | null>((res) => c.once('exit', (code) => { done = true; res(code); }));
  const killer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
  await pokeSoftflowd(ctl, () => done);
  const code = await exited;
  clearTimeout(killer);
  const m = /Flows exported: \d+ \((\d+) records\)/.exec(log);
  if (code !== 0 || !m) throw new Error(`softflowd ${args.join(' ')}: exit ${code}: ${log.slice(-800)}`);
  return { records: Number(m[1]), log };
}
