// The run-time MUD profile store: which devices its MUD file judges, the fallback while the
// file loads or after it failed, and the intersection with a device's own entry.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyFile } from '../../../collector/policy/load.js';
import { MudProfiles } from '../../../collector/policy/mud-profiles.js';
import { parseMud } from '../../../collector/policy/mud.js';
import type { CompiledPolicy } from '../../../collector/policy/types.js';
import type { InventoryView } from '../../../collector/inventory/types.js';
import type { Device, Log } from '../../../collector/types.js';

const URL = 'https://lighting.example.com/.well-known/mud/lamp7';
const LAMP = readFileSync(new globalThis.URL('../../fixtures/mud/lamp7.json', import.meta.url), 'utf8');

const POLICY = (auto: boolean) => `version: 1
segments:
  iot: ["192.168.50.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: quarantine
mud: { auto: ${auto} }
devices:
  - { name: lamp-a, mac: "02:00:00:00:00:0a", profile: cloud }
  - { name: lamp-b, mac: "02:00:00:00:00:0b", profile: mud }
profiles:
  quarantine:
    allow:
      - { service: dns }
  cloud:
    allow:
      - { to: "52.9.9.9", ports: ["443/tcp"] }
      - { to: "52.5.5.5", ports: ["443/tcp"] }
`;

const inventory: InventoryView = {
  deviceByIp: () => undefined, deviceByMac: () => undefined, namesFor: () => [], devices: () => [] as Device[],
};

async function setup(t: Test, auto: boolean, load?: (url: string) => Promise<ReturnType<typeof parseMud>>) {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-mud-profiles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'site.yaml'), POLICY(auto));
  const r = await loadPolicyFile(join(dir, 'site.yaml'));
  if (!r.policy) throw new Error(JSON.stringify(r.errors));
  const warns: unknown[] = [];
  const log: Log = { debug() {}, info() {}, warn: (o) => { warns.push(o); }, error() {} };
  const store = new MudProfiles({ inventory, log, load: load ?? (async () => parseMud(LAMP)) });
  return { p: r.policy, store, view: store.view(r.policy), warns };
}

const tcp443 = (dst: string) => ({ proto: 'tcp' as const, dst, dport: 443, sport: 40000 });
const allowed = (v: CompiledPolicy, profile: string, dst: string) => v.evaluate(profile, tcp443(dst), [], () => []).allowed;
const facts = (mac: string, ip: string, mudUrl: string) => ({ mac, ip, vendor: '', hostname: '', mudUrl });

t.test('profile: mud — the default profile until the file is there, then the file alone', async (t) => {
  const { store, view } = await setup(t, false);
  const pl = view.place(facts('02:00:00:00:00:0b', '192.168.50.11', URL));
  t.equal(pl.profile, 'mud:lamp7');
  t.equal(pl.name, 'lamp-b');
  t.notOk(allowed(view, pl.profile, '52.1.2.3'), 'loading: judged by quarantine');
  t.ok(view.evaluate(pl.profile, { proto: 'udp', dst: '192.168.50.1', dport: 53 }, [], () => []).allowed, 'quarantine\'s DNS rule');
  await store.settled();
  t.ok(allowed(view, pl.profile, '52.1.2.3'), 'the MUD file allows it');
  t.ok(allowed(view, pl.profile, '52.5.5.5'));
  t.notOk(allowed(view, pl.profile, '52.9.9.9'), 'the MUD file does not');
  t.same(store.stats(), { loaded: 1, loading: 0, loadFailures: 0, compileFailures: 0 });
  t.equal(view.place(facts('02:00:00:00:00:0b', '192.168.50.11', '')).profile, 'quarantine', 'no URL: the default profile');
});

t.test('mud: auto — an entry with a real profile and a MUD URL: both must allow', async (t) => {
  const { store, view } = await setup(t, true);
  const a = view.place(facts('02:00:00:00:00:0a', '192.168.50.10', URL));
  t.equal(a.profile, 'cloud+mud:lamp7');
  t.ok(allowed(view, a.profile, '52.9.9.9'), 'loading: the entry\'s profile');
  await store.settled();
  t.ok(allowed(view, a.profile, '52.5.5.5'), 'allowed by both');
  t.notOk(allowed(view, a.profile, '52.1.2.3'), 'the MUD file alone: not wider than the entry');
  t.notOk(allowed(view, a.profile, '52.9.9.9'), 'the entry alone: not allowed either');
  const u = view.place(facts('02:00:00:00:00:99', '192.168.50.99', URL));
  t.equal(u.profile, 'mud:lamp7', 'no entry, watched: the file alone');
  t.ok(allowed(view, u.profile, '52.1.2.3'));
  t.equal(view.place(facts('02:00:00:00:00:98', '10.1.1.1', URL)).profile, 'quarantine', 'not watched: not judged by MUD');
  t.equal(view.place(facts('02:00:00:00:00:98', '192.168.50.98', '')).profile, 'quarantine', 'no URL');
  t.equal(view.limits('cloud+mud:lamp7').bytesPerHour, undefined);
});

t.test('without mud: auto a MUD URL changes nothing', async (t) => {
  const { view } = await setup(t, false);
  t.equal(view.place(facts('02:00:00:00:00:0a', '192.168.50.10', URL)).profile, 'cloud');
  t.equal(view.place(facts('02:00:00:00:00:99', '192.168.50.99', URL)).profile, 'quarantine');
});

t.test('a load that fails: logged once, counted, the fallback judges', async (t) => {
  let calls = 0;
  const { store, view, warns } = await setup(t, true, async () => { calls++; throw new Error('no such file'); });
  const pl = view.place(facts('02:00:00:00:00:99', '192.168.50.99', URL));
  await store.settled();
  t.notOk(allowed(view, pl.profile, '52.1.2.3'));
  view.place(facts('02:00:00:00:00:97', '192.168.50.97', URL));
  await store.settled();
  t.equal(calls, 1, 'not retried at once');
  t.equal(store.stats().loadFailures, 1);
  t.equal(warns.length, 1);
});

t.test('a MUD file whose profile segwatch refuses: counted, the fallback judges', async (t) => {
  const bad = parseMud(LAMP);
  bad.profile.allow = [{ to: 'not a target at all ::' }];
  const { store, view, warns } = await setup(t, true, async () => bad);
  const pl = view.place(facts('02:00:00:00:00:99', '192.168.50.99', URL));
  await store.settled();
  t.notOk(allowed(view, pl.profile, '52.1.2.3'));
  t.equal(store.stats().compileFailures, 1);
  t.equal(warns.length, 1);
});
