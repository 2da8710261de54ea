// A policy of 1,000 devices and 10,000 rules compiles and evaluates 100,000 flows;
// the rate is printed (speed is measured by bench/, never asserted here).
import t from 'tap';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { FlowFacts } from '../../../collector/policy/types.js';

/** Deterministic pseudo-random numbers (xorshift32), so failures reproduce. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 0x100000000; };
}

t.test('1,000 devices, 10,000 rules, 100,000 flows', async (t) => {
  const r = rng(42);
  const PROFILES = 50, RULES = 10_000, DEVICES = 1000;
  const lines: string[] = ['version: 1', 'segments:', '  iot: ["10.50.0.0/16", "fd00:50::/64"]', '  lan: ["192.168.1.0/24"]',
    'watch: [iot]', 'protected: [lan]', 'resolvers: ["10.50.0.1"]', 'devices:'];
  for (let i = 0; i < DEVICES; i++) {
    const mac = `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    lines.push(i % 10 === 9
      ? `  - { name: d${i}, hostname: "host-${i}-*", profile: p${i % PROFILES} }`
      : `  - { name: d${i}, mac: "${mac}", profile: p${i % PROFILES} }`);
  }
  lines.push('default_profile: p0', 'profiles:');
  const perProfile = RULES / PROFILES;
  for (let p = 0; p < PROFILES; p++) {
    lines.push(`  p${p}:`, '    allow:');
    for (let k = 0; k < perProfile; k++) {
      const kind = k % 5;
      const port = 1 + Math.floor(r() * 60000);
      if (kind === 0) lines.push(`      - { to: "${Math.floor(r() * 223) + 1}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.0/24", ports: ["${port}/tcp"] }`);
      else if (kind === 1) lines.push(`      - { to: "*.svc${Math.floor(r() * 500)}.example${p}.com", ports: ["443/tcp", "${port}-${port + 10}/udp"] }`);
      else if (kind === 2) lines.push(`      - { to: "${Math.floor(r() * 223) + 1}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}", ports: ["${port}/udp"] }`);
      else if (kind === 3) lines.push(`      - { to: "2600:${Math.floor(r() * 65535).toString(16)}::/32", ports: ["${port}/tcp"] }`);
      else lines.push(k === 4 ? '      - { service: dns }' : k === 9 ? `      - { to: "device:d${(p * 7) % DEVICES}", ports: ["554/tcp"] }` : `      - { to: "host${k}.example${p}.com" }`);
    }
  }
  const text = lines.join('\n') + '\n';
  const c0 = performance.now();
  const res = loadPolicyText(text, 'big.yaml');
  const compileMs = performance.now() - c0;
  t.same(res.errors.slice(0, 3), []);
  const p = res.policy!;
  t.equal(p.profiles().length, PROFILES);
  t.equal(p.place({ mac: '02:00:00:00:01:f4', ip: '', vendor: '', hostname: '' }).name, 'd500');
  t.equal(p.place({ mac: '', ip: '', vendor: '', hostname: 'host-999-x' }).name, 'd999');

  // flows: a mix of allowed (domain, CIDR, dns) and denied ones, with names
  const N = 100_000;
  const flows: { profile: string; f: FlowFacts; names: string[] }[] = [];
  for (let i = 0; i < N; i++) {
    const k = i % 4;
    const prof = `p${i % PROFILES}`;
    if (k === 0) flows.push({ profile: prof, f: { proto: 'tcp', dst: `93.184.${i & 255}.${(i >> 8) & 255}`, dport: 443 }, names: [`a${i}.svc${i % 500}.example${i % PROFILES}.com`] });
    else if (k === 1) flows.push({ profile: prof, f: { proto: 'udp', dst: '10.50.0.1', dport: 53 }, names: [] });
    else if (k === 2) flows.push({ profile: prof, f: { proto: 'tcp', dst: `${1 + (i % 223)}.${i & 255}.${(i >> 8) & 255}.7`, dport: 1 + (i % 60000) }, names: [] });
    else flows.push({ profile: prof, f: { proto: 'udp', dst: `2600:${(i & 0xffff).toString(16)}::1`, dport: 3478 }, names: ['x.nowhere.net'] });
  }
  const devIps = (name: string) => [`10.50.${name.length}.1`];
  let allowed = 0;
  const e0 = performance.now();
  for (const x of flows) if (p.evaluate(x.profile, x.f, x.names, devIps).allowed) allowed++;
  const evalMs = performance.now() - e0;
  const rate = Math.round(N / (evalMs / 1000));
  t.comment(`policy: ${DEVICES} devices, ${RULES} rules, ${text.length} bytes; load+compile ${compileMs.toFixed(0)} ms`);
  t.comment(`evaluate: ${N} flows in ${evalMs.toFixed(0)} ms = ${rate} flows/s; ${allowed} allowed`);
  // every DNS flow to the resolver is allowed by rule 4 of each profile
  t.ok(allowed >= N / 4, 'at least the DNS quarter is allowed');
  // spot checks against the generated rules
  t.equal(p.evaluate('p3', { proto: 'udp', dst: '10.50.0.1', dport: 53 }, [], devIps).rule, 'profiles.p3.allow[4]');
  t.equal(p.evaluate('p3', { proto: 'tcp', dst: '1.1.1.1', dport: 80 }, ['host14.example3.com'], devIps).rule, 'profiles.p3.allow[14]');
  t.notOk(p.evaluate('p3', { proto: 'tcp', dst: '1.1.1.1', dport: 80 }, ['host14.example4.com'], devIps).allowed);
});
