// deploy/docker-compose.yml: the services, the segwatch container's confinement, the mounts, and
// no secret in the file (required ones refuse to start when unset).

import t from 'tap';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../helpers/paths.js';

const text = readFileSync(join(repoRoot, 'deploy', 'docker-compose.yml'), 'utf8');
const compose = parse(text) as { services: Record<string, any>; volumes: Record<string, unknown> };

t.same(Object.keys(compose.services).sort(), ['grafana', 'influxdb', 'segwatch']);

t.test('segwatch: host network, NET_RAW + NET_ADMIN only, non-root, read-only', async (t) => {
  const s = compose.services.segwatch;
  t.equal(s.network_mode, 'host');
  t.same(s.cap_drop, ['ALL']);
  t.same([...s.cap_add].sort(), ['NET_ADMIN', 'NET_RAW']);
  t.equal(s.privileged, undefined, 'not privileged');
  const uid = String(s.user).split(':')[0];
  t.ok(uid !== '' && uid !== '0' && uid !== 'root', `user ${s.user} is not root`);
  t.equal(s.read_only, true);
  const vols: string[] = s.volumes;
  t.ok(vols.some((v) => /:\/etc\/segwatch\/site\.yaml:ro$/.test(v)), 'policy mounted read-only');
  const state = vols.find((v) => v.split(':')[1] === '/var/lib/segwatch');
  t.ok(state !== undefined && !state.endsWith(':ro'), 'state volume writable');
  t.ok(state !== undefined && state.split(':')[0] in compose.volumes, 'state is a named volume (survives a new container)');
  // the state database and the spool (STATE_DIR/spool by default) live in that volume
  t.equal(s.environment.SEGWATCH_STATE_DIR, '/var/lib/segwatch', 'state directory is the volume');
  t.equal(s.environment.SEGWATCH_SPOOL_DIR, undefined, 'spool under the state directory');
});

t.test('grafana mounts the generated provisioning and dashboards', async (t) => {
  const vols: string[] = compose.services.grafana.volumes;
  t.ok(vols.includes('./grafana/provisioning:/etc/grafana/provisioning:ro'));
  t.ok(vols.includes('./grafana/dashboards:/var/lib/grafana/dashboards/segwatch:ro'));
  for (const v of vols) {
    const src = v.split(':')[0];
    if (src.startsWith('./')) t.ok(existsSync(join(repoRoot, 'deploy', src)), `${src} exists`);
  }
  t.ok(compose.services.grafana.environment.INFLUX_READ_PASSWORD, 'datasource password passed from .env');
});

t.test('no literal secrets; required ones fail fast', async (t) => {
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries((svc.environment ?? {}) as Record<string, string>)) {
      if (!/PASSWORD|TOKEN|SECRET/.test(key)) continue;
      t.match(value, /^\$\{[A-Z_]+:\?[^}]+\}$/, `${name}.${key} comes from .env and is required`);
    }
  }
  const example = readFileSync(join(repoRoot, 'deploy', '.env.example'), 'utf8');
  for (const line of example.split('\n')) {
    const m = /^([A-Z_]*(PASSWORD|TOKEN))=(.*)$/.exec(line);
    if (m) t.equal(m[3], '', `.env.example leaves ${m[1]} empty`);
  }
  t.match(readFileSync(join(repoRoot, 'deploy', '.gitignore'), 'utf8'), /^\.env$/m, '.env is not committed');
});
