// The live-capture settings of issue 14: bpf (with filter, its older name) and buffer_size_mb,
// each a flag, a SEGWATCH_* variable and a config key.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../collector/cli/config.js';

const env = { SEGWATCH_POLICY: 'p.yaml' } as NodeJS.ProcessEnv;

t.test('bpf from the flag, the variable or the file; filter folds into it', async (t) => {
  t.equal(resolveConfig({ interface: 'eth0', bpf: 'auto' }, env, undefined, 'h').config?.bpf, 'auto');
  t.equal(resolveConfig({ interface: 'eth0' }, { ...env, SEGWATCH_BPF: 'udp port 53' }, undefined, 'h').config?.bpf, 'udp port 53');
  t.equal(resolveConfig({ interface: 'eth0', filter: 'arp' }, env, undefined, 'h').config?.bpf, 'arp', 'filter, the older name, still works');
  const d = mkdtempSync(join(tmpdir(), 'segwatch-cfg-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'segwatch.yaml');
  writeFileSync(f, 'interface: eth0\nbpf: auto\nbuffer_size_mb: 128\n');
  const { config, errors } = resolveConfig({}, env, f, 'h');
  t.same(errors, []);
  t.equal(config?.bpf, 'auto');
  t.equal(config?.bufferSizeMb, 128);
});

t.test('bpf and filter together are refused; buffer_size_mb has a default and bounds', async (t) => {
  const both = resolveConfig({ interface: 'eth0', bpf: 'auto', filter: 'arp' }, env, undefined, 'h');
  t.equal(both.config, null);
  t.match(both.errors.join('\n'), /bpf and filter: give one/);
  t.equal(resolveConfig({ interface: 'eth0' }, env, undefined, 'h').config?.bufferSizeMb, 32);
  t.equal(resolveConfig({ interface: 'eth0' }, { ...env, SEGWATCH_BUFFER_SIZE_MB: '64' }, undefined, 'h').config?.bufferSizeMb, 64);
  t.match(resolveConfig({ interface: 'eth0', 'buffer-size-mb': '0' }, env, undefined, 'h').errors.join('\n'), /buffer_size_mb/);
});
