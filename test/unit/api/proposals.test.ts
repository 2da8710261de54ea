// The proposals routes (run --learn-for) through inject, over a real LearnPeriod fed by a real
// pipeline: listed with the read token, accepted only with the admin token, a 404 for a
// device nobody learns and for a collector that learns nothing.

import t from 'tap';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../../collector/api/app.js';
import type { CollectorFacade } from '../../../collector/api/facade.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import { LearnPeriod } from '../../../collector/learn/period.js';
import { DETECTORS } from '../../../collector/detect/registry.js';
import { tcpConversation, type Wire } from '../../fixtures/synth/conversation.js';

const TOKEN = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-fedcba9876543210';
const POLICY = `version: 1
segments: { iot: ["192.168.50.0/24"] }
watch: [iot]
default_profile: quarantine
profiles:
  quarantine: { allow: [ { service: dhcp } ] }
`;
const dir = mkdtempSync(join(tmpdir(), 'segwatch-proposals-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const base = loadPolicyText(POLICY, 'site.yaml').policy!;
const period = new LearnPeriod({ periodMs: 3_600_000, policy: () => base, policyText: () => POLICY, proposalsDir: join(dir, 'proposals') });
const pipeline = new Pipeline({ policy: () => period.policy(), detectors: [...DETECTORS, period.detector()], holdBack: period.holdBack });
period.attach(pipeline.inventory);
const w: Wire = { sink: { write: (us, f, wl) => pipeline.handleFrame(Buffer.from(f), 0, f.length, wl ?? f.length, us / 1000, 1) } };
const T0 = Date.UTC(2026, 0, 1) * 1000;
tcpConversation(w, { client: { mac: '02:00:00:00:00:21', ip: '192.168.50.21' }, server: { mac: '02:00:00:00:00:01', ip: '198.51.100.10' }, sport: 40000, dport: 443, t0Us: T0, close: 'fin' });
pipeline.tick(T0 / 1000 + 2000);

const facade = (learns: boolean): CollectorFacade => ({
  devices: () => [], recentAnomalies: () => [],
  counters: () => ({}) as ReturnType<CollectorFacade['counters']>,
  ...(learns ? { proposals: () => period.proposals(), acceptProposal: (d: string) => period.accept(d, T0 / 1000 + 5000) } : {}),
});
const app = buildApp(facade(true), { token: TOKEN, adminToken: ADMIN, rateLimit: false });
const none = buildApp(facade(false), { token: TOKEN, adminToken: ADMIN, rateLimit: false });
t.teardown(() => app.close());
t.teardown(() => none.close());
const auth = (k: string) => ({ authorization: `Bearer ${k}` });

t.test('list, accept with the admin token only', async (t) => {
  const list = await app.inject({ method: 'GET', url: '/api/v1/proposals', headers: auth(TOKEN) });
  t.equal(list.statusCode, 200);
  const ps = list.json().proposals;
  t.equal(ps.length, 1);
  t.match(ps[0], { id: '02:00:00:00:00:21', state: 'learning', accepted: false, rules: 1 });
  t.match(ps[0].yaml, /to: 198\.51\.100\.10/);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/proposals' })).statusCode, 401, 'no token, no list');
  const url = `/api/v1/proposals/${encodeURIComponent(ps[0].device)}/accept`;
  t.equal((await app.inject({ method: 'POST', url, headers: auth(TOKEN) })).statusCode, 403, 'the read token cannot accept');
  const ok = await app.inject({ method: 'POST', url, headers: auth(ADMIN) });
  t.equal(ok.statusCode, 200, ok.body);
  t.match(ok.json(), { state: 'ready', accepted: true });
  t.ok(existsSync(join(dir, 'proposals', `${ps[0].device}.yaml`)), 'written for a person to copy');
  t.equal(period.policy().place({ mac: '02:00:00:00:00:21', ip: '192.168.50.21', vendor: '', hostname: '' }).known, true, 'its entry is in force');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/proposals/nobody/accept', headers: auth(ADMIN) })).statusCode, 404);
  t.equal((await none.inject({ method: 'GET', url: '/api/v1/proposals', headers: auth(TOKEN) })).statusCode, 404, 'nothing learned: 404 with a hint');
});
