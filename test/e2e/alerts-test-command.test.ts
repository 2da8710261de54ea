// `segwatch alerts test`: one test event through every channel of the config file, each
// one's result and latency; exit 1 when a channel failed, 2 when the config is wrong.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segwatch, segwatchAsync } from '../helpers/paths.js';
import { Receiver } from '../helpers/webhook-receiver.js';

t.test('every channel gets a test event; a failing one is named with its error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-alerts-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const up = new Receiver();
  await up.start();
  t.teardown(() => up.stop());
  const deadPort = (await Receiver.down()).port;
  const cfg = join(dir, 'segwatch.yaml');
  writeFileSync(cfg, `policy: /nonexistent/not-needed-here.yaml
alerts:
  - { name: soc, type: webhook, url: "http://127.0.0.1:${up.port}/hook", min_severity: high }
  - { name: chat, type: slack, url: "http://127.0.0.1:${up.port}/slack" }
  - { name: gone, type: webhook, url: "http://127.0.0.1:${deadPort}/hook", timeout: 2s }
`);
  // not spawnSync: the receiver lives in this process and must answer meanwhile
  const r = await segwatchAsync(['alerts', 'test', '--config', cfg]);
  t.equal(r.code, 1, 'exit 1: one channel failed');
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^channel\s+type\s+latency\s+result/);
  t.match(r.stdout, /^soc\s+webhook\s+\d+ ms\s+ok$/m, 'soc: ok with its latency');
  t.match(r.stdout, /^chat\s+slack\s+\d+ ms\s+ok$/m, 'chat: ok');
  t.match(r.stdout, /^gone\s+webhook\s+\d+ ms\s+FAILED: .*cannot connect/m, 'gone: failed, and why');
  const generic = up.all.filter((x) => x.event === 'test');
  t.equal(generic.length, 1, 'one generic webhook body (the Slack one has its own shape)');
  t.match(generic[0]?.key, /^test-\d+:test$/, 'keyed as every alert is');
  t.equal(up.tries.length, 2, 'two deliveries reached the live receiver (webhook and slack), even to a min_severity: high channel');

  writeFileSync(cfg, 'alerts:\n  - { name: x, type: pager, url: "http://127.0.0.1:1/" }\n');
  const bad = segwatch(['alerts', 'test', '--config', cfg]);
  t.equal(bad.code, 2, 'a wrong config: exit 2');
  t.match(bad.stderr, new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:\\d+: alerts\\[0\\] \\(x\\): type`), 'with the file, line and column');
});
