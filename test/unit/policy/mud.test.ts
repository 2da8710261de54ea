// MUD files (the real ones in the shared captures, and small ones written here for the corners
// of the ACL model) to profile rules: pinned rules for abstractions, acldns names and
// direction-initiated; a pinned unsupported list; nothing lost without a word.

import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseMud, controllerName, MudError, CONTROLLER_PLACEHOLDER, type MudImport } from '../../../collector/policy/mud.js';
import { capture } from '../../helpers/paths.js';

const dir = capture('mud');
const load = (f: string): MudImport => parseMud(readFileSync(join(dir, f), 'utf8'));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Every ACE of a file, by ACL and name, from the JSON itself (either ACL container shape). */
function aceIds(f: string): string[] {
  const d = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const c = d['ietf-access-control-list:acls'] ?? d['ietf-access-control-list:access-lists'];
  const ids: string[] = [];
  for (const acl of c.acl) {
    const aces = (acl.aces ?? acl['access-list-entries']).ace;
    aces.forEach((a: Record<string, unknown>, i: number) => ids.push(`${acl.name ?? acl['acl-name']}/${a.name ?? a['rule-name'] ?? `#${i + 1}`}`));
  }
  return ids;
}

t.test('every MUD file imports, and every ACE ends up in a rule, unsupported or a note', async (t) => {
  t.ok(files.length >= 20, `${files.length} MUD files`);
  for (const f of files) {
    const r = load(f);
    t.ok(r.profile.allow.length + r.profile.allow_in.length > 0, `${f}: rules`);
    const said = new Set<string>();
    for (const rule of [...r.profile.allow, ...r.profile.allow_in]) for (const m of (rule.comment ?? '').matchAll(/([^\s;()]+\/[^\s;()]+)/g)) said.add(m[1]);
    for (const u of [...r.unsupported, ...r.notes]) said.add(u.ace);
    const lost = aceIds(f).filter((id) => !said.has(id));
    t.same(lost, [], `${f}: no ACE silently dropped`);
    for (const [name, hosts] of Object.entries(r.controllers)) t.same(hosts, [CONTROLLER_PLACEHOLDER], `${f}: controller ${name} has the placeholder`);
  }
});

t.test('controller and same-manufacturer abstractions (controllerclass test file)', async (t) => {
  const r = load('nistmud-mudfile-controllerclass-test.json');
  t.equal(r.profileName, 'super1');
  t.equal(r.manufacturer, 'controllerclass-test.nist.local');
  t.same(r.profile.allow, [
    { to: 'www.nist.local', ports: ['80/tcp'], comment: 'MUD mud-38382-v4fr/cl0-frdev' },
    { to: 'controller:my-controller', ports: ['8002/udp'], comment: 'MUD mud-38382-v4fr/myctl0-frdev' },
    { to: 'local-networks', ports: ['8000/udp'], comment: 'MUD mud-38382-v4fr/loc0-frdev' },
    { to: 'same-manufacturer', ports: ['4000/udp'], comment: 'MUD mud-38382-v4fr/myman0-frdev' },
  ]);
  t.same(r.profile.allow_in.map(({ comment, ...rest }) => rest), [
    { from: 'controller:my-controller', from_ports: ['8002/udp'] },
    { from: 'local-networks', from_ports: ['8000/udp'] },
    { from: 'same-manufacturer', from_ports: ['4000/udp'] },
  ]);
  t.match(r.profile.allow_in[0].comment, /^MUD mud-38382-v4to\/myctl0-todev \(the replies of mud-38382-v4fr\/myctl0-frdev/);
  t.same(r.controllers, { 'my-controller': [CONTROLLER_PLACEHOLDER] });
  t.same(r.notes.map((n) => n.ace), ['mud-38382-v4to/cl0-todev'], 'the direction-initiated: from-device replies need no rule');
  t.same(r.unsupported, []);

  const s = load('nistmud-mudfile-same-manufacturer-test.json');
  t.same(s.profile.allow, [{ to: 'same-manufacturer', comment: 'MUD mud-68824-v4fr/myman0-frdev' }]);
  t.same(s.profile.allow_in.map((x) => x.from), ['same-manufacturer']);
  const nest = load('osmud-MUDFILE.NEST.json');
  t.ok(nest.profile.allow.some((x) => x.to === 'controller:my-controller'), 'draft ietf-mud:mud-acl my-controller');
  t.ok(nest.profile.allow.some((x) => x.to === 'same-manufacturer'), 'draft ietf-mud:same-manufacturer');
  t.ok(nest.profile.allow.some((x) => x.to === 'nest.com' && x.ports?.[0] === '9543/tcp'), 'draft ipv4-acl port range');
});

t.test('acldns names, URN controllers, ICMP and protocols (Amazon Echo)', async (t) => {
  const r = load('nistmud-amazonEchoMud.json');
  t.equal(r.profileName, 'amazonecho');
  const has = (rule: object, where: 'allow' | 'allow_in' = 'allow') => t.ok(r.profile[where].some((x) => {
    const { comment, ...rest } = x;
    return JSON.stringify(rest) === JSON.stringify(rule);
  }), JSON.stringify(rule));
  has({ to: 'dcape-na.amazon.com', ports: ['443/tcp'] });
  has({ to: 'softwareupdates.amazon.com', ports: ['443/tcp'] });
  has({ to: '3.north-america.pool.ntp.org', ports: ['123/udp'] });
  has({ to: 'controller:dns', ports: ['53/udp'] });
  has({ to: 'controller:gateway', icmp: ['echo-request'] });
  has({ to: '224.0.0.22/32', proto: 2 });
  has({ to: '8.8.8.8/32', icmp: ['echo-request'] });
  has({ to: 'local-networks', from_ports: ['50000/udp'] });
  has({ from: 'pindorama.amazon.com', from_ports: ['443/tcp'] }, 'allow_in');
  has({ from: '208.67.220.220/32', from_ports: ['53/udp'] }, 'allow_in');
  has({ from: 'local-networks', ports: ['80/tcp'] }, 'allow_in');
  t.same(Object.keys(r.controllers).sort(), ['dns', 'gateway']);
  t.same(r.controllerUris.dns, 'urn:ietf:params:mud:dns');
  t.equal(r.profile.allow.length, 36);
  t.equal(r.profile.allow_in.length, 33);
  t.same(r.unsupported, [
    { ace: 'from-ipv4-amazonecho/from-ipv4-amazonecho-4', what: '224.0.0.22/32 AND local-networks: a rule has one target: kept 224.0.0.22/32 (wider than the ACE when the others narrowed it)' },
    { ace: 'from-ipv4-amazonecho/from-ipv4-amazonecho-5', what: '239.255.255.250/32 AND local-networks: a rule has one target: kept 239.255.255.250/32 (wider than the ACE when the others narrowed it)' },
    { ace: 'from-ipv4-amazonecho/from-ipv4-amazonecho-6', what: '255.255.255.255/32 AND local-networks: a rule has one target: kept 255.255.255.255/32 (wider than the ACE when the others narrowed it)' },
    { ace: 'from-ipv4-amazonecho/from-ipv4-amazonecho-6', what: 'eth destination-mac-address "ff:ff:ff:ff:ff:ff" (segwatch does not match on it): rule kept without it (wider than the ACE)' },
    { ace: 'from-ipv4-amazonecho/from-ipv4-amazonecho-32', what: '224.0.0.251/32 AND local-networks: a rule has one target: kept 224.0.0.251/32 (wider than the ACE when the others narrowed it)' },
    { ace: 'from-ethernet-amazonecho/from-ethernet-amazonecho-0', what: 'ethertype "0x0006" is not IP (segwatch judges IP flows): no rule' },
    { ace: 'from-ethernet-amazonecho/from-ethernet-amazonecho-1', what: 'ethertype "0x888e" is not IP (segwatch judges IP flows): no rule' },
  ], 'the unsupported list, pinned');
});

t.test('direction-initiated (local-networks test file, osMUD draft example)', async (t) => {
  const r = load('nistmud-mudfile-local-networks-test.json');
  // from-device ACE initiated by the remote + its to-device twin: one inbound rule to port 80
  t.same(r.profile.allow_in, [{ from: 'local-networks', ports: ['80/tcp'], comment: 'MUD mud-49859-v4fr/loc0-frdev; mud-49859-v4to/loc0-todev' }]);
  t.same(r.profile.allow, [{ to: 'www.nist.local', ports: ['800/tcp'], comment: 'MUD mud-49859-v4fr/cl0-frdev' }]);
  t.same(r.notes.map((n) => n.ace), ['mud-49859-v4to/cl0-todev']);
  const d = load('osmud-ietf-draft.json');
  t.same(d.profile.allow, [{ to: 'test.example.com', ports: ['443/tcp'], comment: 'MUD mud-76100-v6fr/cl0-frdev' }]);
  t.same(d.profile.allow_in, [], 'the reply ACE (direction-initiated: from-device) is no inbound rule');
  const bulb = load('osmud-lightbulb2000.json');
  t.same(bulb.profile.allow.map((x) => [x.to, x.ports]), [['service.bms.example.com', ['443/tcp']]], 'draft port operator under ipv6-acl with tcp direction-initiated');
});

/** A one-ACE MUD file in the direction given. */
function one(matches: Record<string, unknown>, dir: 'from' | 'to' = 'from', actions: Record<string, unknown> = { forwarding: 'accept' }, extra: Record<string, unknown> = {}) {
  return {
    'ietf-mud:mud': {
      'mud-version': 1, 'mud-url': 'https://mud.example.com/v1/thing.json', 'cache-validity': 12, ...extra,
      [`${dir}-device-policy`]: { 'access-lists': { 'access-list': [{ name: 'a' }] } },
    },
    'ietf-access-control-list:acls': { acl: [{ name: 'a', type: 'ipv4-acl-type', aces: { ace: [{ name: 'x', matches, actions }] } }] },
  };
}

t.test('the ACL model, case by case', async (t) => {
  const r = (m: Record<string, unknown>, dir: 'from' | 'to' = 'from') => { const x = parseMud(one(m, dir)); return { out: x.profile.allow, in: x.profile.allow_in, un: x.unsupported, notes: x.notes }; };
  const tcp = (x: Record<string, unknown>) => ({ ipv4: { protocol: 6, 'ietf-acldns:dst-dnsname': 'API.Example.com.' }, tcp: x });
  t.same(r(tcp({ 'destination-port': { 'lower-port': 8000, 'upper-port': 8080 } })).out[0].ports, ['8000-8080/tcp'], 'range; name lower-cased, trailing dot gone');
  t.equal(r(tcp({})).out[0].to, 'api.example.com');
  t.same(r(tcp({ 'destination-port': { operator: 'lte', port: 1023 } })).out[0].ports, ['1-1023/tcp'], 'lte from 1');
  t.same(r(tcp({ 'destination-port': { operator: 'gte', port: 1024 } })).out[0].ports, ['1024-65535/tcp']);
  t.same(r(tcp({ 'destination-port': { operator: 'neq', port: 22 } })).out[0].ports, ['1-21/tcp', '23-65535/tcp']);
  t.same(r(tcp({ 'source-port': { operator: 'eq', port: 5000 } })).out[0], { to: 'api.example.com', from_ports: ['5000/tcp'], comment: 'MUD a/x' }, 'the device\'s source port');
  t.same(r(tcp({})).out[0].proto, 6, 'tcp with no port: the protocol');
  t.match(r(tcp({ 'destination-port': { operator: 'eq', port: 0 } })).un[0].what, /only port 0: no rule/);
  t.match(r(tcp({ 'destination-port': { operator: 'between', port: 1 } })).un[0].what, /operator "between": no rule/);
  // the remote opened (from-device ACE describes the device's answers): ports swap sides
  t.same(r(tcp({ 'ietf-mud:direction-initiated': 'to-device', 'source-port': { operator: 'eq', port: 443 }, 'destination-port': { operator: 'eq', port: 50000 } })).in,
    [{ from: 'api.example.com', ports: ['443/tcp'], from_ports: ['50000/tcp'], comment: 'MUD a/x' }]);
  const inb = r({ ipv4: { protocol: 17, 'source-ipv4-network': '203.0.113.0/24' }, udp: { 'destination-port': { operator: 'eq', port: 5683 } } }, 'to');
  t.same(inb.in, [{ from: '203.0.113.0/24', ports: ['5683/udp'], comment: 'MUD a/x' }], 'to-device ACE: who may open to the device\'s port');
  t.same(r({ ipv4: { protocol: 1 }, icmp: { type: 3, code: 4 } }).out[0], { icmp: ['3/4'], comment: 'MUD a/x' });
  t.same(r({ ipv6: { protocol: 58 }, icmp: { type: 128 } }).out[0], { icmpv6: ['echo-request'], comment: 'MUD a/x' });
  t.same(r({ ipv6: { protocol: 58, 'destination-ipv6-network': 'ff02::/16' } }).out[0], { to: 'ff02::/16', proto: 58, comment: 'MUD a/x' });
  t.same(r({ 'ietf-mud:mud': { manufacturer: 'Hue.Example.com' } }).out[0].to, 'manufacturer:hue.example.com');
  const ctl = parseMud(one({ 'ietf-mud:mud': { controller: 'https://ctl.example.com/bridge' } }));
  t.same(ctl.profile.allow[0].to, 'controller:ctl.example.com-bridge');
  t.same(ctl.controllerUris, { 'ctl.example.com-bridge': 'https://ctl.example.com/bridge' });
  t.equal(controllerName('urn:ietf:params:mud:ntp'), 'ntp');
  t.match(r({ 'ietf-mud:mud': { model: 'https://x.example/m' } }).un[0].what, /model .*no target.*: no rule/);
  t.same(r({ 'ietf-mud:mud': { model: 'https://x.example/m' } }).out, []);
  t.match(r({ ipv4: { protocol: 6, dscp: 10 }, tcp: {} }).un[0].what, /dscp 10 .*rule kept without it/);
  t.match(r({ ipv4: { protocol: 6 }, tcp: { flags: 'syn' } }).un[0].what, /tcp flags/);
  t.match(r({ ipv4: { protocol: 17 }, tcp: {} }).un[0].what, /contradicts/);
  t.match(r({}).un[0].what, /every packet/);
  t.same(r({}).out[0].to, '0.0.0.0/0');
  const deny = parseMud(one({ ipv4: { protocol: 6 } }, 'from', { forwarding: 'drop' }));
  t.same(deny.profile.allow, []);
  t.match(deny.unsupported[0].what, /forwarding "drop": profiles only allow: no rule/);
  t.equal(parseMud(one({})).cacheValidityHours, 12);
  t.equal(parseMud(one({}, 'from', undefined, { 'cache-validity': 900 })).cacheValidityHours, 48, 'out-of-range cache-validity: the RFC default');
  t.equal(parseMud(one({})).profileName, 'thing');
});

t.test('broken input: an error or an unsupported entry, never a crash', async (t) => {
  t.throws(() => parseMud('{'), { name: 'MudError', message: /^not JSON/ });
  t.ok((() => { try { parseMud('{'); } catch (e) { return e instanceof MudError; } return false; })(), 'a MudError');
  t.throws(() => parseMud('[]'), /expected a JSON object/);
  t.throws(() => parseMud('{"a":1}'), /no "ietf-mud:mud"/);
  const missing = parseMud({ 'ietf-mud:mud': { 'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'nope' }, 7] } } } });
  t.same(missing.unsupported.map((u) => u.ace), ['nope', '?']);
  const unref = parseMud({ 'ietf-mud:mud': {}, 'ietf-access-control-list:acls': { acl: [{ name: 'lonely', aces: { ace: [] } }, 'junk'] } });
  t.same(unref.unsupported.map((u) => u.ace).sort(), ['?', 'lonely']);
  const junkAce = parseMud({ 'ietf-mud:mud': { 'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'a' }] } } }, 'ietf-access-control-list:acls': { acl: [{ name: 'a', aces: { ace: [null, 5, { matches: { ipv4: { protocol: 'tcp' } } }] } }] } });
  t.equal(junkAce.unsupported.length, 3);
  t.equal(junkAce.profileName, 'mud-device', 'no mud-url: a fallback name');
});

t.test('fuzz: real files with values swapped for junk parse or fail with MudError, never crash', async (t) => {
  let seed = 13;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const junk = [null, 0, -1, 65536, 1.5, '', 'x', 'eq', [], [null], {}, { port: 'a' }, true, '0x0800', 'to-device'];
  const docs = files.map((f) => readFileSync(join(dir, f), 'utf8'));
  let parsed = 0, refused = 0;
  for (let i = 0; i < 3000; i++) {
    const doc = JSON.parse(docs[i % docs.length]);
    // walk to a random node a few times and replace it
    for (let k = 0; k < 3; k++) {
      let node: unknown = doc;
      let parent: Record<string, unknown> | unknown[] | null = null, key: string | number = '';
      for (let depth = 0; depth < 12 && node && typeof node === 'object'; depth++) {
        const keys = Array.isArray(node) ? node.map((_, j) => j) : Object.keys(node);
        if (keys.length === 0 || rnd() < 0.15) break;
        key = keys[Math.floor(rnd() * keys.length)];
        parent = node as Record<string, unknown>;
        node = (node as Record<string | number, unknown>)[key];
      }
      if (parent) (parent as Record<string | number, unknown>)[key] = junk[Math.floor(rnd() * junk.length)];
    }
    try { parseMud(doc); parsed++; } catch (err) {
      if (!(err instanceof MudError)) { t.fail(`iteration ${i}: ${(err as Error).stack}`); return; }
      refused++;
    }
  }
  t.equal(parsed + refused, 3000, `${parsed} parsed, ${refused} refused as not MUD`);
});
