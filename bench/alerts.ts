// Alert benches (issue 11):
// 1. alerts a second the dispatcher delivers to a loopback webhook: the outbox in a real state
//    database, the webhook channel, a receiver in its own process; N alerts queued at once,
//    timed until the outbox is empty (no rate limit, so the channel's own speed shows);
// 2. `segwatch run --capture` over the bench capture with four channels configured (webhook,
//    Slack, Discord and ntfy formats, all to that receiver) against the same run without
//    channels: interleaved rounds, medians, the ratio. The default rate limit applies, so
//    what is measured is what alerting costs the pipeline (outbox rows, digests), not the
//    receivers' speed.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateDb } from '../collector/state/db.js';
import { Outbox } from '../collector/state/outbox.js';
import { AlertDispatcher } from '../collector/sinks/alerts/dispatcher.js';
import { parseAlertChannels } from '../collector/sinks/alerts/config.js';
import { createChannel } from '../collector/sinks/alerts/registry.js';
import type { Anomaly } from '../collector/types.js';

export interface AlertsBenchOutcome {
  webhook: { alerts: number; seconds: number; perSecond: number };
  run?: { withoutMedian: number; withMedian: number; ratio: number; runs: { without: number[]; with: number[] }; };
}

const RECEIVER = `
import http from 'node:http';
let n = 0;
const s = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { n++; res.writeHead(200).end('ok'); }); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

async function startReceiver(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('receiver did not start')), 10_000);
    child.stdout!.once('data', (d: Buffer) => { clearTimeout(t); resolve(Number(d.toString().trim())); });
  });
  return { port, child };
}

function anomaly(i: number): Anomaly {
  const t = new Date(Date.UTC(2026, 10, 1, 10, 0, 0, i)).toISOString();
  return {
    id: `bench${String(i).padStart(8, '0')}`, time: t, kind: 'policy.violation', severity: 'high', device: `plug-${i % 50}`, mac: '02:00:00:00:00:01',
    ip: '192.168.50.10', segment: 'iot', profile: 'plug', peer: `203.0.113.${i % 250}`, peerName: '', peerPort: 443, proto: 'tcp', bytes: 60, packets: 1,
    count: 1, firstSeen: t, lastSeen: t, rule: 'profile plug', message: 'plug opened tcp/443 to a host its profile does not allow', state: 'open', closeReason: '', suppressed: false,
  };
}

async function webhookRate(port: number, n: number): Promise<AlertsBenchOutcome['webhook']> {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-bench-alerts-'));
  try {
    const db = StateDb.open(dir);
    const r = parseAlertChannels([{ name: 'bench', type: 'webhook', url: `http://127.0.0.1:${port}/hook`, min_severity: 'info', rate_limit: 100_000 }], {});
    const cfg = r.channels![0];
    const d = new AlertDispatcher({ channels: [{ cfg, channel: createChannel(cfg, {}) }], outbox: new Outbox(db) });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) d.anomaly(anomaly(i), 'opened');
    for (const end = Date.now() + 120_000; Date.now() < end;) {
      const s = d.stats()[0];
      if (s.outbox === 0 && s.delivered >= n) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    const seconds = (performance.now() - t0) / 1000;
    const delivered = d.stats()[0].delivered;
    await d.close();
    db.close();
    return { alerts: delivered, seconds, perSecond: delivered / seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timeRun(argv: string[]): Promise<{ seconds: number; code: number | null; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  return { seconds: (performance.now() - t0) / 1000, code, stderr };
}

/**
 * @param segwatch node and the built CLI
 * @param capture the bench capture; @param policy its policy (null: only the webhook rate)
 */
export async function runAlertsBench(segwatch: string[], capture: string | null, policy: string | null, rounds: number): Promise<AlertsBenchOutcome> {
  const rx = await startReceiver();
  try {
    const webhook = await webhookRate(rx.port, Number(process.env.BENCH_ALERTS_N ?? 5000));
    if (!capture || !policy) return { webhook };
    const dir = mkdtempSync(join(tmpdir(), 'segwatch-bench-run-'));
    try {
      const url = `http://127.0.0.1:${rx.port}`;
      const base = `policy: ${policy}\ncapture: ${capture}\nlog_level: warn\n`;
      writeFileSync(join(dir, 'without.yaml'), base);
      writeFileSync(join(dir, 'with.yaml'), base + `alerts:
  - { name: soc, type: webhook, url: "${url}/soc", min_severity: info }
  - { name: chat, type: slack, url: "${url}/slack", min_severity: info }
  - { name: team, type: discord, url: "${url}/discord", min_severity: info }
  - { name: phone, type: ntfy, url: "${url}/ntfy", min_severity: info }
`);
      const runs = { without: [] as number[], with: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        for (const v of ['without', 'with'] as const) {
          const state = join(dir, `state-${v}-${r}`);
          const m = await timeRun([...segwatch, 'run', '--config', join(dir, `${v}.yaml`), '--state-dir', state]);
          rmSync(state, { recursive: true, force: true });
          if (m.code !== 0) throw new Error(`run ${v} channels: exit ${m.code}: ${m.stderr.slice(-500)}`);
          runs[v].push(m.seconds);
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
      const withoutMedian = median(runs.without), withMedian = median(runs.with);
      return { webhook, run: { withoutMedian, withMedian, ratio: withMedian / withoutMedian, runs } };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rx.child.kill('SIGTERM');
  }
}

export function printAlerts(o: AlertsBenchOutcome): void {
  console.log(`alerts: ${o.webhook.alerts} delivered to a loopback webhook in ${o.webhook.seconds.toFixed(2)} s: ${Math.round(o.webhook.perSecond)} alerts/s (one at a time, in order, each acknowledged)`);
  if (o.run) {
    console.log(`run --capture with four channels (webhook, slack, discord, ntfy): median ${o.run.withMedian.toFixed(2)} s vs ${o.run.withoutMedian.toFixed(2)} s without: ${o.run.ratio.toFixed(3)}x the time`);
  }
}
