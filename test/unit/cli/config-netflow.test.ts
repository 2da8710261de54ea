// The NetFlow/IPFIX settings: flag, SEGWATCH_* variable and config key each, lists and the
// ifIndex map, and every problem reported with where it came from (file:line:col).

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../collector/cli/config.js';

const env = { SEGWATCH_POLICY: 'p.yaml' } as NodeJS.ProcessEnv;

function file(t: { teardown(fn: () => void): void }, text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'segwatch-cfg-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'segwatch.yaml');
  writeFileSync(f, text);
  return f;
}

t.test('netflow alone is a source; defaults', async (t) => {
  const { config, errors } = resolveConfig({ netflow: '2055' }, env, undefined, 'h');
  t.same(errors, []);
  t.same(config?.netflow, ['2055']);
  t.same(config?.ipfix, []);
  t.equal(config?.netflowRcvbufMb, 8);
  t.same(config?.netflowExporters, []);
  t.same(config?.netflowInterfaces, {});
});

t.test('flags, variables and the config file', async (t) => {
  const f = file(t, 'ipfix: ["[::]:4739", 4740]\nnetflow_exporters: [192.0.2.1, "2001:db8::1"]\nnetflow_interfaces:\n  "192.0.2.1": [3, 7]\nnetflow_rcvbuf_mb: 16\n');
  const { config, errors } = resolveConfig({ netflow: '0.0.0.0:2055,2056' }, env, f, 'h');
  t.same(errors, []);
  t.same(config?.netflow, ['0.0.0.0:2055', '2056']);
  t.same(config?.ipfix, ['[::]:4739', '4740']);
  t.same(config?.netflowExporters, ['192.0.2.1', '2001:db8::1']);
  t.same(config?.netflowInterfaces, { '192.0.2.1': [3, 7] });
  t.equal(config?.netflowRcvbufMb, 16);
  const e = resolveConfig({}, { ...env, SEGWATCH_IPFIX: '4739', SEGWATCH_NETFLOW_INTERFACES: '192.0.2.1=3,7;192.0.2.2=4' }, undefined, 'h');
  t.same(e.errors, []);
  t.same(e.config?.netflowInterfaces, { '192.0.2.1': [3, 7], '192.0.2.2': [4] });
});

t.test('every problem, with its place', async (t) => {
  const f = file(t, 'netflow: "host.lan:2055"\nnetflow_exporters: [192.0.2.1, router]\nnetflow_interfaces:\n  "192.0.2.1": [wan]\nnetflow_rcvbuf_mb: 0\n');
  const { config, errors } = resolveConfig({}, env, f, 'h');
  t.equal(config, null);
  const all = errors.join('\n');
  t.match(all, new RegExp(`${f}:1:10: netflow: expected an IPv4 or \\[IPv6\\] address`));
  t.match(all, new RegExp(`${f}:2:20: netflow_exporters: expected IP addresses, got "router"`));
  t.match(all, new RegExp(`${f}:4:3: netflow_interfaces: 192.0.2.1: expected a list of ifIndex numbers`));
  t.match(all, new RegExp(`${f}:5:20: netflow_rcvbuf_mb: expected at least 1`));
  t.match(all, /source: give --interface IF \(live\), --netflow/, 'no source left');
  const twice = resolveConfig({ netflow: '2055', ipfix: '127.0.0.1:2055' }, env, undefined, 'h');
  t.match(twice.errors.join('\n'), /given twice/);
  const bad = resolveConfig({ 'netflow-interfaces': '192.0.2.1:3' }, { ...env, SEGWATCH_NETFLOW: '70000' }, undefined, 'h');
  t.match(bad.errors.join('\n'), /SEGWATCH_NETFLOW: netflow: expected a port/);
  t.match(bad.errors.join('\n'), /--netflow-interfaces: netflow_interfaces: expected EXPORTER=IF/);
});
