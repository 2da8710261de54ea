// `segwatch mud import FILE|URL`: an RFC 8520 MUD file as a profile in a policy `policy check`
// accepts, every rule naming the ACE it came from and what could not be expressed listed at the
// top. A FILE is read as it is (nothing fetched); a URL goes through mud-fetch's checks.

import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseDocument, Document, isMap, isSeq, isScalar as isScalarNode, YAMLMap, YAMLSeq, type Node, Scalar } from 'yaml';
import { parseMud, policyName, type MudImport } from '../policy/mud.js';
import { fetchMud, MudFetchError } from '../policy/mud-fetch.js';
import { loadPolicyText, formatPolicyError } from '../policy/load.js';
import { resolveMudSettings } from './config.js';
import { parseCommand, helpText, UsageError, type CommandSpec } from './args.js';

export const mudImportSpec: CommandSpec = {
  name: 'mud import',
  usage: 'segwatch mud import FILE|URL [--device NAME --mac MAC|--ip IP|--hostname GLOB] [--profile NAME] [--policy FILE] [--out FILE]',
  summary: 'Turn an RFC 8520 MUD file into a segwatch profile. Without --policy, writes a complete policy skeleton to edit; with it, adds the profile (and its controllers, and the device) to that policy. A FILE fetches nothing; a URL is fetched over HTTPS from mud.trusted_hosts only and used only when its signature verifies.',
  flags: {
    device: { type: 'string', arg: 'NAME', help: 'also add a device entry of this name using the profile (with --mac, --ip or --hostname)' },
    mac: { type: 'string', arg: 'MAC', help: 'the device entry matches this MAC (or MAC glob)' },
    ip: { type: 'string', arg: 'IP', help: 'the device entry matches this IP or CIDR' },
    hostname: { type: 'string', arg: 'GLOB', help: 'the device entry matches this DHCP/mDNS host name glob' },
    profile: { type: 'string', arg: 'NAME', help: 'profile name (default: the MUD URL\'s last path segment)' },
    policy: { type: 'string', arg: 'FILE', help: 'add to this policy (its comments kept) instead of writing a skeleton' },
    out: { type: 'string', short: 'o', arg: 'FILE', help: 'write here (default: standard output)' },
    config: { type: 'string', arg: 'FILE', env: 'SEGWATCH_CONFIG', help: 'config file with mud: { trusted_hosts, dir, trust_anchors } and state_dir (for URLs)' },
    'state-dir': { type: 'string', arg: 'DIR', help: 'fetched MUD files are cached in DIR/mud (env SEGWATCH_STATE_DIR)' },
    'mud-trusted-hosts': { type: 'string', arg: 'HOST,...', help: 'hosts MUD files may be fetched from (env SEGWATCH_MUD_TRUSTED_HOSTS)' },
    'mud-trust-anchors': { type: 'string', arg: 'FILE', help: 'PEM bundle signatures must chain to (env SEGWATCH_MUD_TRUST_ANCHORS; default the system CA store)' },
    'mud-dir': { type: 'string', arg: 'DIR', help: 'local folder of MUD files, by the URL\'s last path segment (env SEGWATCH_MUD_DIR)' },
  },
};

export async function mudCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'import') {
    process.stderr.write(`${helpText(mudImportSpec)}\n`);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const a = parseCommand(mudImportSpec, rest);
  if (a.help) { process.stdout.write(helpText(mudImportSpec) + '\n'); return 0; }
  const src = a.positionals[0];
  if (!src || a.positionals.length > 1) throw new UsageError(`expected one FILE or URL\n\n${helpText(mudImportSpec)}`);
  const v = a.values as Record<string, string | undefined>;
  const match = { mac: v.mac, ip: v.ip, hostname: v.hostname };
  if (v.device && !match.mac && !match.ip && !match.hostname) throw new UsageError('--device needs --mac, --ip or --hostname: which device the entry matches');
  if (!v.device && (match.mac || match.ip || match.hostname)) throw new UsageError('--mac, --ip and --hostname describe the device of --device NAME');
  if (match.ip && isIP(match.ip.split('/')[0]) === 0) throw new UsageError(`--ip: expected an IP or CIDR, got ${JSON.stringify(match.ip)}`);

  let mud: MudImport;
  let origin: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
    const { settings, errors } = resolveMudSettings(a.values, process.env, v.config);
    if (!settings) { for (const e of errors) process.stderr.write(`${e}\n`); return 1; }
    // test-only, by this exact name and value; never documented for production
    const allowLoopback = process.env.SEGWATCH_TEST_MUD_ALLOW_LOOPBACK === '1';
    if (allowLoopback) process.stderr.write('segwatch mud import: SEGWATCH_TEST_MUD_ALLOW_LOOPBACK=1: loopback addresses allowed (tests only)\n');
    try {
      const r = await fetchMud(src, { ...settings, testOnly: allowLoopback ? { allowLoopback } : undefined });
      mud = r.mud;
      origin = `${src} (${r.source === 'dir' ? `from ${settings.dir}` : r.source === 'cache' ? 'cached, signature verified' : 'fetched, signature verified'})`;
    } catch (err) {
      if (err instanceof MudFetchError) { process.stderr.write(`segwatch mud import: ${err.message}\n`); return 1; }
      throw err;
    }
  } else {
    let text: string;
    try { text = await readFile(src, 'utf8'); } catch (err) { process.stderr.write(`segwatch mud import: ${src}: cannot read: ${(err as Error).message}\n`); return 1; }
    try { mud = parseMud(text); } catch (err) { process.stderr.write(`segwatch mud import: ${src}: ${(err as Error).message}\n`); return 1; }
    origin = src;
  }
  if (v.profile) {
    if (policyName(v.profile, '') !== v.profile) throw new UsageError(`--profile: expected letters, digits, "_", "." or "-" (at most 64), got ${JSON.stringify(v.profile)}`);
    mud.profileName = v.profile;
  }

  let doc: Document;
  if (v.policy) {
    let text: string;
    try { text = await readFile(v.policy, 'utf8'); } catch (err) { process.stderr.write(`segwatch mud import: ${v.policy}: cannot read: ${(err as Error).message}\n`); return 1; }
    doc = parseDocument(text);
    if (doc.errors.length || !isMap(doc.contents)) { process.stderr.write(`segwatch mud import: ${v.policy}: not a YAML mapping; run segwatch policy check ${v.policy}\n`); return 1; }
    const err = addToPolicy(doc, mud, origin, v.device ? { name: v.device, ...match } : undefined);
    if (err) { process.stderr.write(`segwatch mud import: ${err}\n`); return 1; }
  } else {
    doc = skeleton(mud, origin, v.device ? { name: v.device, ...match } : undefined);
  }
  const out = doc.toString({ lineWidth: 0 });

  for (const u of mud.unsupported) process.stderr.write(`not expressible: ${u.ace}: ${u.what}\n`);
  // the result is checked as `policy check` would, so a wrong import is seen here, not at run time
  const check = loadPolicyText(out, v.out ?? '<output>');
  if (v.out) await writeFile(v.out, out);
  else process.stdout.write(out);
  process.stderr.write(`segwatch mud import: profile ${mud.profileName}: ${mud.profile.allow.length} allow, ${mud.profile.allow_in.length} allow_in rules; ${mud.unsupported.length} not expressible; ${Object.keys(mud.controllers).length} controllers to fill in\n`);
  if (!check.policy) {
    for (const e of check.errors) process.stderr.write(`${formatPolicyError(e)}\n`);
    process.stderr.write('segwatch mud import: the result does not pass policy check (see above)\n');
    return 1;
  }
  return 0;
}

interface DeviceArg { name: string; mac?: string; ip?: string; hostname?: string }

function header(mud: MudImport, origin: string): string[] {
  const lines = [` MUD profile "${mud.profileName}" imported by segwatch mud import from ${origin}`];
  if (mud.mudUrl) lines.push(` mud-url: ${mud.mudUrl}${mud.manufacturer ? ` (manufacturer ${mud.manufacturer})` : ''}`);
  if (Object.keys(mud.controllers).length) lines.push(` TODO: fill in the hosts of each controller under controllers: (now ${'fill-in-controller.invalid'}, which matches nothing)`);
  if (mud.unsupported.length) {
    lines.push(' Not expressible in segwatch (from the MUD file):');
    for (const u of mud.unsupported) lines.push(`   ${u.ace}: ${u.what}`);
  }
  if (mud.notes.length) {
    lines.push(' Needs no rule:');
    for (const n of mud.notes) lines.push(`   ${n.ace}: ${n.what}`);
  }
  return lines;
}

const flow = (doc: Document, v: unknown): Node => { const n = doc.createNode(v) as Node; (n as YAMLMap | YAMLSeq).flow = true; return n; };

function profileNode(doc: Document, mud: MudImport): YAMLMap {
  const p = new YAMLMap();
  if (mud.profile.description) p.set('description', mud.profile.description);
  const allow = new YAMLSeq();
  for (const r of mud.profile.allow) allow.items.push(flow(doc, r));
  p.set('allow', allow);
  if (mud.profile.allow_in.length) {
    const ain = new YAMLSeq();
    for (const r of mud.profile.allow_in) ain.items.push(flow(doc, r));
    p.set('allow_in', ain);
  }
  return p;
}

function controllerEntries(doc: Document, mud: MudImport, into: YAMLMap, resolvers: string[] = []): void {
  for (const [name, hosts] of Object.entries(mud.controllers)) {
    if (into.has(name)) continue; // the policy already says where this controller is
    const uri = mud.controllerUris[name];
    const key = new Scalar(name);
    // RFC 8520's well-known DNS controller class is what the policy calls its resolvers
    if (uri.toLowerCase() === 'urn:ietf:params:mud:dns' && resolvers.length) {
      key.commentBefore = ` MUD controller ${uri}: the policy's resolvers`;
      into.items.push(doc.createPair(key, flow(doc, resolvers)) as never);
      continue;
    }
    const list = flow(doc, hosts);
    key.commentBefore = ` TODO: the hosts of ${uri === 'my-controller' ? `this device's controller (MUD my-controller of ${mud.mudUrl ?? mud.profileName})` : `controller ${uri}`}; the placeholder matches nothing`;
    into.items.push(doc.createPair(key, list) as never);
  }
}

function deviceNode(doc: Document, d: DeviceArg, profile: string): Node {
  const e: Record<string, string> = { name: d.name, profile };
  if (d.mac) e.mac = d.mac;
  if (d.ip) e.ip = d.ip;
  if (d.hostname) e.hostname = d.hostname;
  return flow(doc, e);
}

/** A complete policy around the profile: the site parts are examples to edit. */
function skeleton(mud: MudImport, origin: string, device?: DeviceArg): Document {
  const doc = new Document({});
  const root = doc.contents as YAMLMap;
  doc.commentBefore = [...header(mud, origin), '', ' EDIT before use: segments (your networks), watch, resolvers; then run segwatch policy check on this file.'].join('\n');
  root.set('version', 1);
  const segments = new YAMLMap();
  segments.set('iot', flow(doc, ['192.168.50.0/24']));
  const segKey = doc.createNode('segments') as Scalar;
  segKey.commentBefore = ' EDIT: your networks; local-networks in the rules below means any of them';
  root.items.push(doc.createPair(segKey, segments) as never);
  root.set('watch', flow(doc, ['iot']));
  if (Object.keys(mud.controllers).length) {
    const c = new YAMLMap();
    controllerEntries(doc, mud, c);
    root.set('controllers', c);
  }
  if (device) root.set('devices', new YAMLSeq());
  if (device) (root.get('devices') as YAMLSeq).items.push(deviceNode(doc, device, mud.profileName));
  root.set('default_profile', mud.profileName);
  const profiles = new YAMLMap();
  profiles.set(mud.profileName, profileNode(doc, mud));
  root.set('profiles', profiles);
  return doc;
}

/** Adds the profile, its controllers and the device to a policy; an error text when it cannot. */
function addToPolicy(doc: Document, mud: MudImport, origin: string, device?: DeviceArg): string | null {
  const root = doc.contents as YAMLMap;
  let profiles: unknown = root.get('profiles', true);
  if (profiles === undefined) { profiles = new YAMLMap(); root.set('profiles', profiles); }
  if (!isMap(profiles)) return 'the policy\'s profiles: is not a mapping';
  if (profiles.has(mud.profileName)) return `the policy already has a profile "${mud.profileName}"; choose another name with --profile NAME`;
  const key = new Scalar(mud.profileName);
  key.commentBefore = header(mud, origin).join('\n');
  profiles.items.push(doc.createPair(key, profileNode(doc, mud)) as never);
  if (Object.keys(mud.controllers).length) {
    let c: unknown = root.get('controllers', true);
    if (c === undefined) { c = new YAMLMap(); root.set('controllers', c); }
    if (!isMap(c)) return 'the policy\'s controllers: is not a mapping';
    const res = root.get('resolvers');
    const resolvers = isSeq(res) ? res.items.map((x) => String(isScalarNode(x) ? x.value : x)).filter((x) => isIP(x) !== 0) : [];
    controllerEntries(doc, mud, c, resolvers);
  }
  if (device) {
    let devs: unknown = root.get('devices', true);
    if (devs === undefined) { devs = new YAMLSeq(); root.set('devices', devs); }
    if (!isSeq(devs)) return 'the policy\'s devices: is not a list';
    const names = devs.items.map((d) => (isMap(d) ? String(d.get('name')) : ''));
    if (names.includes(device.name)) return `the policy already has a device "${device.name}"`;
    // first match wins: the new entry goes first so a broader entry (a vendor glob) cannot shadow it
    const n = deviceNode(doc, device, mud.profileName);
    n.commentBefore = ` ${device.name}: judged by its MUD profile ${mud.profileName}`;
    devs.items.unshift(n as never);
  }
  return null;
}
