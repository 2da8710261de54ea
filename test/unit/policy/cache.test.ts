// The policy cache with real files: a hit is compiled from the entry and judges as the
// parse did; other bytes or another build miss; errors and odd values are never stored; a
// broken entry is a miss that heals; at most 8 entries, 0600 in a 0700 directory; where
// it lives; exceptions.yaml joins a hit as a miss; `policy check` never reads it.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { formatPolicyError, loadPolicyFile } from '../../../collector/policy/load.js';
import {
  codeIdentity, defaultPolicyCacheDir, hashModules, MAX_POLICY_CACHE_ENTRIES, policyCacheKey, readCachedPolicy,
} from '../../../collector/policy/cache.js';
import { policyCheck } from '../../../collector/policy/check.js';
import { PolicyWatcher } from '../../../collector/policy/watch.js';
import type { CompiledPolicy } from '../../../collector/policy/types.js';

const TEXT = `version: 1
segments:
  iot: ["192.168.50.0/24", "fd00:50::/64"]
  lan: ["192.168.1.0/24"]
watch: [iot]
protected: [lan]
resolvers: ["192.168.50.1"]
devices:
  - { name: doorbell, mac: "aa:bb:cc:00:00:01", profile: camera }
  - { name: nvr, ip: "192.168.50.9", profile: hub }
  - { name: plugs, vendor: "tp-link*", profile: plug }
default_profile: quarantine
profiles:
  camera:
    allow:
      - { to: "*.ring.com", ports: ["443/tcp"] }
      - { to: "52.94.0.0/16", ports: ["443/tcp", "3478-3479/udp"] }
      - { to: "device:nvr", ports: ["554/tcp"] }
      - { service: ntp }
    limits: { bytes_per_day: 2GB }
  hub:
    allow: [ { to: "segment:iot" } ]
  plug:
    allow: [ { service: dns }, { to: "9.9.9.9", ports: ["53/udp"] } ]
  quarantine:
    allow: [ { service: dhcp } ]
exceptions:
  - { device: doorbell, kind: policy.violation, comment: "the policy's own" }
detectors:
  scan_hosts: { threshold: 7 }
`;

/** A temp dir (removed after the test) with site.yaml of `text`; the cache goes in `cache/`. */
function site(t: Test, text = TEXT): { dir: string; file: string; cacheDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-pcache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.yaml');
  writeFileSync(file, text);
  return { dir, file, cacheDir: join(dir, 'cache') };
}

const entries = (cacheDir: string) => (existsSync(cacheDir) ? readdirSync(cacheDir).sort() : []);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keyOf = async (file: string) => policyCacheKey(sha256(readFileSync(file)), (await codeIdentity())!);

/** What a compiled policy says of a spread of devices and flows: equal lists, equal judging. */
function judge(p: CompiledPolicy): unknown[] {
  const devs = (n: string) => (n === 'nvr' ? ['192.168.50.9'] : []);
  const out: unknown[] = [p.profiles(), p.watchedCidrs, p.detectSettings(), p.mud(), p.limits('camera'), p.limits('plug')];
  for (const ip of ['192.168.50.7', '192.168.1.4', '192.168.50.1', 'fd00:50::9', '10.0.0.1']) {
    out.push([p.segmentOf(ip), p.isWatched(ip), p.protectedSegment(ip), p.isResolver(ip)]);
  }
  for (const d of [['aa:bb:cc:00:00:01', ''], ['00:11:22:33:44:55', '192.168.50.9'], ['00:11:22:33:44:56', '', 'TP-LINK TECHNOLOGIES'], ['00:00:00:00:00:01', '']]) {
    out.push(p.place({ mac: d[0], ip: d[1], vendor: d[2] ?? '', hostname: '' }));
  }
  const flows: [string, 'tcp' | 'udp', string, number, string[]][] = [
    ['camera', 'tcp', '52.94.1.2', 443, []], ['camera', 'tcp', '52.94.1.2', 444, []], ['camera', 'udp', '52.94.1.2', 3479, []],
    ['camera', 'tcp', '1.2.3.4', 443, ['x.ring.com']], ['camera', 'tcp', '1.2.3.4', 443, []], ['camera', 'tcp', '192.168.50.9', 554, []],
    ['camera', 'udp', '129.6.15.28', 123, []], ['hub', 'tcp', '192.168.50.77', 8080, []], ['hub', 'tcp', '192.168.1.4', 22, []],
    ['plug', 'udp', '9.9.9.9', 53, []], ['plug', 'udp', '8.8.8.8', 53, []], ['quarantine', 'udp', '255.255.255.255', 67, []],
  ];
  for (const [prof, proto, dst, dport, names] of flows) out.push(p.evaluate(prof, { proto, dst, dport }, names, devs));
  const a = { device: 'doorbell', kind: 'policy.violation', peer: '1.2.3.4', peerName: '', peerPort: 443 };
  out.push(p.suppresses(a, 0), p.suppresses({ ...a, device: 'plugs-a1' }, 0));
  return out;
}

/** A 443/tcp flow of a camera to 52.94.1.2, which TEXT allows. */
const camera443 = (p: CompiledPolicy | null) => p!.evaluate('camera', { proto: 'tcp', dst: '52.94.1.2', dport: 443 }, [], () => []).allowed;

/** The entry of `file`, its camera rule to 52.94.0.0/16 made to allow 444/tcp instead of 443/tcp. */
function doctor(doc: Record<string, unknown>): Record<string, unknown> {
  const d = structuredClone(doc) as { profiles: { camera: { allow: { ports?: string[] }[] } } };
  d.profiles.camera.allow[1].ports = ['444/tcp'];
  return d;
}

t.test('a second load of the file is a hit, compiled from the entry, judging as the parse did', async (t) => {
  const { file, cacheDir } = site(t);
  const cold = await loadPolicyFile(file, { cacheDir });
  t.same(cold.errors, []);
  t.equal(cold.cached, false, 'the first load parses');
  t.same(entries(cacheDir), [`${await keyOf(file)}.json`], 'and stores one entry');
  const hit = await loadPolicyFile(file, { cacheDir });
  t.equal(hit.cached, true, 'the second is a hit');
  t.same({ sha256: hit.sha256, bytes: hit.bytes }, { sha256: cold.sha256, bytes: cold.bytes }, 'the file was read for its sums');
  t.equal(hit.policy!.source, file);
  t.same(judge(hit.policy!), judge(cold.policy!), 'the same lists, placements, verdicts, limits, settings and exceptions');
  const uncached = await loadPolicyFile(file, { cacheDir: null });
  t.equal(uncached.cached, false);
  t.same(judge(uncached.policy!), judge(cold.policy!));

  // the hit is what the entry says: an entry changed by hand changes the policy
  const entry = join(cacheDir, `${await keyOf(file)}.json`);
  writeFileSync(entry, JSON.stringify(doctor(JSON.parse(readFileSync(entry, 'utf8')) as Record<string, unknown>)));
  const doctored = await loadPolicyFile(file, { cacheDir });
  t.equal(doctored.cached, true);
  t.equal(camera443(doctored.policy), false, 'the rule as the entry has it: 443 no more');
  t.equal(doctored.policy!.evaluate('camera', { proto: 'tcp', dst: '52.94.1.2', dport: 444 }, [], () => []).allowed, true, 'but 444');
});

t.test('a changed byte in the policy is a miss; so is an entry of another build', async (t) => {
  const { file, cacheDir } = site(t);
  await loadPolicyFile(file, { cacheDir });
  writeFileSync(file, TEXT.replace('limits: { bytes_per_day: 2GB }', 'limits: { bytes_per_day: 3GB }'));
  const changed = await loadPolicyFile(file, { cacheDir });
  t.equal(changed.cached, false, 'one byte changed: parsed again');
  t.same(changed.policy!.limits('camera'), { bytesPerDay: 3e9 }, 'and the change in force');
  t.equal(entries(cacheDir).length, 2);

  // a doctored document stored under the key another build would use is never read
  rmSync(cacheDir, { recursive: true });
  mkdirSync(cacheDir, { mode: 0o700 });
  const doc = await docOf(file);
  const other = policyCacheKey(sha256(readFileSync(file)), 'an older build');
  t.not(other, await keyOf(file), 'the code identity is in the key');
  writeFileSync(join(cacheDir, `${other}.json`), JSON.stringify(doctor(doc)), { mode: 0o600 });
  const r = await loadPolicyFile(file, { cacheDir });
  t.equal(r.cached, false, 'a miss');
  t.equal(camera443(r.policy), true, 'the file as it is');
  // the same doctored document under this build's key is read: the miss above was the key's
  writeFileSync(join(cacheDir, `${await keyOf(file)}.json`), JSON.stringify(doctor(doc)), { mode: 0o600 });
  const again = await loadPolicyFile(file, { cacheDir });
  t.equal(again.cached, true);
  t.equal(camera443(again.policy), false);
});

/** The validated document of `file` as the cache stores it (a load into a scratch cache). */
async function docOf(file: string): Promise<Record<string, unknown>> {
  const scratch = mkdtempSync(join(tmpdir(), 'segwatch-pcache-doc-'));
  try {
    await loadPolicyFile(file, { cacheDir: join(scratch, 'c') });
    return (await readCachedPolicy(join(scratch, 'c'), await keyOf(file)))!;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

t.test('the code identity: the name and bytes of every module of the kind, nothing else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'segwatch-pcache-mods-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'load.js'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'compile.js'), 'export const b = 2;\n');
  writeFileSync(join(dir, 'load.ts'), 'export const a: number = 1;\n');
  writeFileSync(join(dir, 'load.js.map'), '{}');
  const base = await hashModules(dir, '.js');
  t.match(base, /^[0-9a-f]{64}$/);
  t.not(await hashModules(dir, '.ts'), base, 'sources and builds are told apart');
  writeFileSync(join(dir, 'load.ts'), 'export const a: number = 2;\n');
  writeFileSync(join(dir, 'load.js.map'), '{"x":1}');
  t.equal(await hashModules(dir, '.js'), base, 'a source or a map does not change the build');
  writeFileSync(join(dir, 'compile.js'), 'export const b = 3;\n');
  const changed = await hashModules(dir, '.js');
  t.not(changed, base, 'one byte of a module');
  writeFileSync(join(dir, 'cache.js'), '');
  t.not(await hashModules(dir, '.js'), changed, 'a module more, even empty');
  t.equal(await codeIdentity(), await codeIdentity(), 'once per process');
  // the policy modules, then the modules outside them the checks run, then the parser
  t.match(await codeIdentity(), /^[0-9a-f]{64} [0-9a-f]{64} yaml@\d+\.\d+\.\d+/);
});

t.test('a policy with an error is never cached, and its errors are the same with the cache', async (t) => {
  const broken = [
    TEXT.replace('to: "device:nvr"', 'to: "device:nvr2"'), // a semantic error
    TEXT.replace('ports: ["443/tcp"] }', 'ports: [443/tcp"] }'), // a YAML syntax error
    TEXT.replace('resolvers: ["192.168.50.1"]', 'resolvers: 7'), // a schema error
  ];
  for (const text of broken) {
    const { file, cacheDir } = site(t, text);
    const without = (await loadPolicyFile(file, { cacheDir: null })).errors.map(formatPolicyError);
    t.not(without.length, 0);
    t.match(without[0], new RegExp(`^${file}:\\d+:\\d+: `), 'at file:line:col');
    for (let i = 0; i < 2; i++) {
      const r = await loadPolicyFile(file, { cacheDir });
      t.equal(r.policy, null);
      t.same(r.errors.map(formatPolicyError), without, `load ${i + 1}: the same errors`);
    }
    t.same(entries(cacheDir), [], 'nothing stored');
  }
  // valid, but JSON would make -0 of it 0: never stored, so never served changed
  const { file, cacheDir } = site(t, TEXT.replace('bytes_per_day: 2GB', 'bytes_per_day: -0'));
  const r = await loadPolicyFile(file, { cacheDir });
  t.same(r.errors, []);
  t.equal(Object.is(r.policy!.limits('camera').bytesPerDay, -0), true, 'the value as YAML gave it');
  t.same(entries(cacheDir), [], 'not stored');
});

t.test('a broken entry is a miss, is removed, and the load goes on', async (t) => {
  const { file, cacheDir } = site(t);
  await loadPolicyFile(file, { cacheDir });
  const entry = join(cacheDir, `${await keyOf(file)}.json`);
  const good = readFileSync(entry, 'utf8');
  const bad: [string, string][] = [
    ['truncated', good.slice(0, good.length >> 1)], ['a JSON array', '[1,2,3]'], ['garbage', '\u0000\u00ff garbage'],
    ['empty', ''], ['null', 'null'], ['a string', '"version: 1"'],
  ];
  for (const [what, text] of bad) {
    writeFileSync(entry, text);
    t.equal(await readCachedPolicy(cacheDir, await keyOf(file)), null, `${what}: a miss`);
    t.equal(existsSync(entry), false, `${what}: removed`);
    writeFileSync(entry, text);
    const r = await loadPolicyFile(file, { cacheDir });
    t.same([r.errors, r.cached], [[], false], `${what}: the load parses the file`);
    t.same(judge(r.policy!), judge((await loadPolicyFile(file, { cacheDir: null })).policy!));
    t.equal(readFileSync(entry, 'utf8'), good, `${what}: written anew`);
  }
  // a JSON object that is no policy does not compile: parsed afresh, written anew
  writeFileSync(entry, '{}');
  const r = await loadPolicyFile(file, { cacheDir });
  t.same([r.errors, r.cached, readFileSync(entry, 'utf8')], [[], false, good], 'an object that does not compile');
  // an entry that cannot be read nor replaced (a directory in its place): no cache, still a load
  rmSync(entry);
  mkdirSync(entry);
  const d = await loadPolicyFile(file, { cacheDir });
  t.same([d.errors, d.cached, camera443(d.policy)], [[], false, true], 'a directory where the entry goes');
  t.same(entries(cacheDir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  // a cache directory that cannot be made: no cache, still a load
  const blocked = join(cacheDir, `${await keyOf(file)}.json`, 'sub');
  t.same((await loadPolicyFile(file, { cacheDir: join(blocked, 'deeper') })).errors, []);
});

t.test('a cache directory others may write is not used', async (t) => {
  const { file, cacheDir } = site(t);
  await loadPolicyFile(file, { cacheDir });
  const entry = join(cacheDir, `${await keyOf(file)}.json`);
  writeFileSync(entry, JSON.stringify(doctor(JSON.parse(readFileSync(entry, 'utf8')) as Record<string, unknown>)));
  chmodSync(cacheDir, 0o777);
  const r = await loadPolicyFile(file, { cacheDir });
  t.same([r.cached, camera443(r.policy)], [false, true], 'world-writable: not read');
  t.equal(readFileSync(entry, 'utf8').includes('444/tcp'), true, 'nor written');
  chmodSync(cacheDir, 0o700);
  t.equal((await loadPolicyFile(file, { cacheDir })).cached, true, 'its own again: read');
});

t.test('at most 8 entries, the least recently used go; files 0600 in a 0700 directory', async (t) => {
  const { dir, cacheDir } = site(t);
  const files: string[] = [];
  const keys: string[] = [];
  const base = Date.now() / 1000 - 1000;
  for (let i = 0; i < MAX_POLICY_CACHE_ENTRIES + 2; i++) {
    const f = join(dir, `site-${i}.yaml`);
    writeFileSync(f, `# version ${i}\n${TEXT}`);
    files.push(f);
    keys.push(await keyOf(f));
    t.equal((await loadPolicyFile(f, { cacheDir })).cached, false);
    // distinct ages, whatever the file system's clock resolution
    utimesSync(join(cacheDir, `${keys[i]}.json`), base + i, base + i);
  }
  t.same(entries(cacheDir), keys.slice(2).map((k) => `${k}.json`).sort(), 'the 8 newest');
  t.equal(statSync(cacheDir).mode & 0o777, 0o700, 'directory 0700');
  for (const n of entries(cacheDir)) t.equal(statSync(join(cacheDir, n)).mode & 0o777, 0o600, `${n} 0600`);
  // a hit makes its entry the newest: the next one to go is the one after it
  t.equal((await loadPolicyFile(files[2], { cacheDir })).cached, true);
  const f = join(dir, 'site-new.yaml');
  writeFileSync(f, `# new\n${TEXT}`);
  await loadPolicyFile(f, { cacheDir });
  const left = entries(cacheDir);
  t.equal(left.length, MAX_POLICY_CACHE_ENTRIES);
  t.ok(left.includes(`${keys[2]}.json`), 'the entry just used stays');
  t.notOk(left.includes(`${keys[3]}.json`), 'the oldest unused goes');
});

t.test('where the cache lives: the state directory, XDG, HOME; off', async (t) => {
  const d = defaultPolicyCacheDir;
  t.equal(d({ HOME: '/home/u' }, '/var/lib/segwatch'), '/var/lib/segwatch/cache');
  t.equal(d({ HOME: '/home/u', XDG_CACHE_HOME: '/xdg' }), '/xdg/segwatch');
  t.equal(d({ HOME: '/home/u', XDG_CACHE_HOME: 'relative' }), '/home/u/.cache/segwatch', 'a relative XDG_CACHE_HOME is ignored');
  t.equal(d({ HOME: '/home/u' }), '/home/u/.cache/segwatch');
  t.equal(d({}), null, 'nowhere known');
  for (const off of ['off', 'OFF', '0', 'false']) {
    t.equal(d({ HOME: '/home/u', SEGWATCH_POLICY_CACHE: off }, '/var/lib/segwatch'), null, `SEGWATCH_POLICY_CACHE=${off}`);
  }
  t.equal(d({ HOME: '/home/u', SEGWATCH_POLICY_CACHE: 'on' }), '/home/u/.cache/segwatch');
});

t.test('left out, loadPolicyFile uses the default (replay): XDG_CACHE_HOME, unless off', async (t) => {
  const { dir, file } = site(t);
  const saved = { xdg: process.env.XDG_CACHE_HOME, off: process.env.SEGWATCH_POLICY_CACHE };
  t.teardown(() => {
    for (const [k, v] of [['XDG_CACHE_HOME', saved.xdg], ['SEGWATCH_POLICY_CACHE', saved.off]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });
  process.env.XDG_CACHE_HOME = dir;
  process.env.SEGWATCH_POLICY_CACHE = 'off';
  t.equal((await loadPolicyFile(file)).cached, false);
  t.same(entries(join(dir, 'segwatch')), [], 'off: nothing stored');
  delete process.env.SEGWATCH_POLICY_CACHE;
  await loadPolicyFile(file);
  t.same(entries(join(dir, 'segwatch')), [`${await keyOf(file)}.json`], 'on: stored under XDG_CACHE_HOME');
  t.equal((await loadPolicyFile(file)).cached, true);
  t.equal((await loadPolicyFile(file, { cacheDir: null })).cached, false, 'null: none');

  // policy check never reads it: a broken policy with a valid document under its key
  const brokenText = TEXT.replace('to: "device:nvr"', 'to: "device:nvr2"');
  const good = await docOf(file);
  writeFileSync(file, brokenText);
  writeFileSync(join(dir, 'segwatch', `${await keyOf(file)}.json`), JSON.stringify(good), { mode: 0o600 });
  t.equal((await loadPolicyFile(file)).cached, true, 'the planted entry is there to be read');
  const err: string[] = [];
  t.equal(await policyCheck(file, () => undefined, (l) => err.push(l)), 1, 'policy check refuses the file');
  t.match(err[0], new RegExp(`^${file}:\\d+:\\d+: .*nvr2`));
});

t.test('exceptions.yaml joins a hit as it joins a miss; the entry keeps the policy\'s own', async (t) => {
  const { dir, file, cacheDir } = site(t);
  const exc = join(dir, 'exceptions.yaml');
  writeFileSync(exc, 'exceptions:\n  - { device: "plugs-*", comment: acknowledged }\n');
  const a = { device: 'doorbell', kind: 'policy.violation', peer: '1.2.3.4', peerName: '', peerPort: 443 };
  const plug = { ...a, device: 'plugs-a1', kind: 'traffic.limit' };
  const seen = async (opts: { exceptions?: string }) => {
    const r = await loadPolicyFile(file, { ...opts, cacheDir });
    return [r.cached, r.policy!.suppresses(a, 0), r.policy!.suppresses(plug, 0)];
  };
  t.same(await seen({ exceptions: exc }), [false, true, true], 'a miss: both');
  t.same(await seen({ exceptions: exc }), [true, true, true], 'a hit: both');
  t.same(await seen({}), [true, true, false], 'a hit without the file: the policy\'s own alone');
  const stored = (await readCachedPolicy(cacheDir, await keyOf(file)))!;
  t.same(stored.exceptions, [{ device: 'doorbell', kind: 'policy.violation', comment: "the policy's own" }], 'the entry holds the policy\'s own');
});

t.test('the watcher (run) loads through the cache it is given', async (t) => {
  const { file, cacheDir } = site(t);
  const w = new PolicyWatcher(file, { debounceMs: 10_000, cacheDir });
  t.teardown(() => w.close());
  t.same(await w.start(), []);
  t.same(entries(cacheDir), [`${await keyOf(file)}.json`], 'stored on the first load');
  const entry = join(cacheDir, `${await keyOf(file)}.json`);
  writeFileSync(entry, JSON.stringify(doctor(JSON.parse(readFileSync(entry, 'utf8')) as Record<string, unknown>)));
  t.equal(await w.reload(), true);
  t.equal(camera443(w.current()), false, 'a reload of the same bytes is a hit');
});
