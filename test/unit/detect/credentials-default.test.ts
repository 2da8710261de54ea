// credentials.default through the whole pipeline on frames written by the test: a telnet
// login typed one keystroke per segment (option negotiation, server echo, a corrected typo,
// a window-size report inside the password), FTP and HTTP Basic auth; near misses (right
// user, wrong password; no watched end); the bounds (flows tracked, bytes per flow, state
// dropped at flow end); a real telnet capture; and the password shown nowhere in full.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, capture } from '../../helpers/paths.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import type { DetectorDef } from '../../../collector/detect/detector.js';
import { DETECTORS } from '../../../collector/detect/registry.js';
import {
  CredentialDictionary, MIRAI_DICTIONARY, credentialsDefaultDetectorWith, maskPassword,
} from '../../../collector/detect/credentials-default.js';
import { MIRAI_BOTNET_TXT } from '../../../collector/detect/data/mirai-botnet.js';
import type { Anomaly } from '../../../collector/types.js';
import { sendUdp, tcpConversation, type Host, type Wire } from '../../fixtures/synth/conversation.js';
import { httpGet, httpResponse, telnetKeystrokeLogin, telnetLogin } from '../../fixtures/synth/app.js';

const CAM: Host = { mac: '00:b4:63:a1:00:21', ip: '192.168.50.21' };
const NVR: Host = { mac: '18:80:25:b2:00:30', ip: '192.168.50.30' };
const GW_MAC = '24:5a:4c:50:00:01';
const ATTACKER: Host = { mac: GW_MAC, ip: '203.0.113.66' };
const REMOTE2: Host = { mac: GW_MAC, ip: '198.51.100.9' };

const POLICY = loadPolicyText(`version: 1
segments:
  iot: ["192.168.50.0/24"]
  lab: ["192.168.0.0/24"]
watch: [iot]
resolvers: ["192.168.50.1"]
devices:
  - { name: camera, mac: "${CAM.mac}", profile: camera }
  - { name: nvr, mac: "${NVR.mac}", profile: camera }
default_profile: camera
profiles:
  camera:
    allow:
      - { service: dns }
`, 'cred-test.yaml').policy!;

const T0 = Date.UTC(2026, 10, 5, 9, 0, 0) * 1000;

type Frame = [number, Uint8Array, number];

/** frames collected, to be fed in time order (conversations interleave) */
function recorder(): { wire: Wire; frames: Frame[] } {
  const frames: Frame[] = [];
  return { frames, wire: { sink: { write: (ts, f, wl = f.length) => { frames.push([ts, Buffer.from(f), wl]); } } } };
}

async function run(frames: Frame[], o: { detectors?: DetectorDef[]; policyText?: string } = {}) {
  const opened: Anomaly[] = [];
  const policy = o.policyText ? loadPolicyText(o.policyText, 'p.yaml').policy! : POLICY;
  const pipeline = new Pipeline({
    policy: () => policy,
    ...(o.detectors ? { detectors: o.detectors } : {}),
    sinks: [{ name: 'rec', anomaly: (a, e) => { if (e === 'opened') opened.push({ ...a }); }, flush: async () => {}, close: async () => {} }],
  });
  const sorted = [...frames].sort((a, b) => a[0] - b[0]);
  for (const [ts, f, wl] of sorted) pipeline.handleFrame(Buffer.from(f), 0, f.length, wl, ts / 1000, 1);
  const before = pipeline.detect!.stats();
  await pipeline.finish();
  return { opened, creds: opened.filter((a) => a.kind === 'credentials.default'), before, after: pipeline.detect!.stats(), pipeline };
}

const ex = (segs: ['c' | 's', Buffer][]) => segs.map(([from, data]) => ({ from, data }));

function telnet(w: Wire, client: Host, server: Host, user: string, pass: string, t0: number, o: { typo?: boolean; port?: number; banner?: string; sport?: number } = {}): number {
  return tcpConversation(w, {
    client, server, sport: o.sport ?? 40123, dport: o.port ?? 23, t0Us: t0, rttUs: 2000, gapUs: 50_000,
    exchanges: ex(telnetKeystrokeLogin(user, pass, o)),
  });
}

/** every text the anomalies carry, for "the password appears nowhere" */
const everything = (as: Anomaly[]) => JSON.stringify(as);

t.test('the bundled dictionary is the SecLists file, byte for byte', async (t) => {
  const file = readFileSync(join(repoRoot, 'collector/detect/data/mirai-botnet.txt'), 'utf8');
  t.equal(MIRAI_BOTNET_TXT, file, 'mirai-botnet.ts holds mirai-botnet.txt');
  t.equal(MIRAI_DICTIONARY.size, 60);
  const b = (s: string) => Buffer.from(s, 'latin1');
  t.ok(MIRAI_DICTIONARY.has('root', b('xc3511'), 0, 6));
  t.ok(MIRAI_DICTIONARY.has('root', b(''), 0, 0), '(none) is the empty password');
  t.ok(MIRAI_DICTIONARY.has('admin', b('20xbully'), 0, 8), 'the trailing blank of a listed password is not compared');
  t.notOk(MIRAI_DICTIONARY.has('root', b('xc3512'), 0, 6));
  t.notOk(MIRAI_DICTIONARY.has('Root', b('xc3511'), 0, 6), 'user names are case-sensitive');
  const lic = readFileSync(join(repoRoot, 'collector/detect/data/SecLists.LICENSE'), 'utf8');
  t.match(lic, /MIT License/);
  t.match(readFileSync(join(repoRoot, 'collector/detect/data/mirai-botnet.ts'), 'utf8'), /Copyright \(c\) 2025 Daniel Miessler/, 'the notice travels with the module');
  t.ok(DETECTORS.some((d) => d.name === 'credentials-default' && d.kinds['credentials.default'] === 'critical'), 'registered, critical');
});

t.test('the mask shows at most two characters and always hides two', async (t) => {
  const m = (s: string) => maskPassword(Buffer.from(s, 'latin1'), 0, s.length);
  t.equal(m('xc3511'), 'xc****');
  t.equal(m('1111'), '11****');
  t.equal(m('abc'), 'a****');
  t.equal(m('ab'), '****');
  t.equal(m(''), '(empty)');
});

t.test('found: telnet typed one keystroke per segment, with negotiation, echo and a corrected typo', async (t) => {
  const { wire, frames } = recorder();
  const end = telnet(wire, ATTACKER, CAM, 'root', 'xc3511', T0, { typo: true });
  // ten minutes later, one more packet: the closed flow's final record has gone out by then
  sendUdp(wire, end + 600e6, CAM, { mac: GW_MAC, ip: '192.168.50.1' }, 5353, 53, Buffer.alloc(12));
  const r = await run(frames);
  t.equal(r.creds.length, 1, 'one credentials.default');
  const a = r.creds[0];
  t.match(a, { severity: 'critical', device: 'camera', ip: CAM.ip, peer: ATTACKER.ip, peerPort: 23, proto: 'tcp', rule: 'credentials.default' });
  t.match(a.message, /203\.0\.113\.66 sent camera \(192\.168\.50\.21\) a login over telnet \(tcp\/23\) as "root" with a factory-default password \(xc\*\*\*\*, on the Mirai botnet's list\): change the device's factory password/);
  t.notMatch(everything(r.opened), /xc3511/, 'the password is in no field');
  t.equal(r.before.loginFlows, 0, 'the flow\'s final record dropped its state, before the input ended');
});

t.test('found: telnet on 2323, the watched device is the client (a bot on the camera)', async (t) => {
  const { wire, frames } = recorder();
  telnet(wire, CAM, REMOTE2, 'admin', '7ujMko0admin', T0, { port: 2323 });
  const r = await run(frames);
  t.equal(r.creds.length, 1);
  t.match(r.creds[0], { device: 'camera', peer: REMOTE2.ip, peerPort: 2323 });
  t.match(r.creds[0].message, /camera \(192\.168\.50\.21\) sent 198\.51\.100\.9 a login over telnet \(tcp\/2323\) as "admin" with a factory-default password \(7u\*\*\*\*.*likely infected/);
  t.notMatch(everything(r.opened), /7ujMko0admin/);
});

t.test('found: whole-line telnet (the demo\'s builder) and a user name equal to the password is masked too', async (t) => {
  const { wire, frames } = recorder();
  tcpConversation(wire, { client: NVR, server: CAM, sport: 40200, dport: 23, t0Us: T0, exchanges: ex(telnetLogin('admin', 'admin')) });
  const r = await run(frames);
  t.equal(r.creds.length, 1);
  t.match(r.creds[0], { device: 'camera', peer: NVR.ip }, 'both ends watched: the server is the device');
  t.match(r.creds[0].message, /as "ad\*\*\*\* \(the same as the password\)"/);
  t.notMatch(everything(r.creds), /admin/, '"admin" appears nowhere, not even as the user');
});

t.test('found: FTP USER / PASS, and HTTP Basic auth', async (t) => {
  const { wire, frames } = recorder();
  tcpConversation(wire, {
    client: ATTACKER, server: CAM, sport: 41000, dport: 21, t0Us: T0, exchanges: [
      { from: 's', data: Buffer.from('220 IPCam FTP server ready\r\n') },
      { from: 'c', data: Buffer.from('USER root\r\n') },
      { from: 's', data: Buffer.from('331 Password required\r\n') },
      { from: 'c', data: Buffer.from('PASS vizxv\r\n') },
      { from: 's', data: Buffer.from('230 Logged in\r\n') },
    ],
  });
  tcpConversation(wire, {
    client: NVR, server: CAM, sport: 41001, dport: 80, t0Us: T0 + 5e6, exchanges: [
      { from: 'c', data: httpGet({ host: CAM.ip, path: '/cgi-bin/snapshot.cgi', basicAuth: 'admin:meinsm' }) },
      { from: 's', data: httpResponse(200, 'OK', 'jpeg') },
    ],
  });
  const r = await run(frames);
  t.same(r.creds.map((a) => [a.device, a.peer, a.peerPort]).sort((x, y) => Number(x[2]) - Number(y[2])), [['camera', ATTACKER.ip, 21], ['camera', NVR.ip, 80]]);
  t.match(r.creds.find((a) => a.peerPort === 21)!.message, /login over FTP \(tcp\/21\) as "root" with a factory-default password \(vi\*\*\*\*/);
  t.match(r.creds.find((a) => a.peerPort === 80)!.message, /login over HTTP Basic auth \(tcp\/80\) as "admin" with a factory-default password \(me\*\*\*\*/);
  t.notMatch(everything(r.opened), /vizxv|meinsm/);
});

t.test('not found: right user, wrong password; a listed pair between hosts that are not watched', async (t) => {
  const { wire, frames } = recorder();
  telnet(wire, ATTACKER, CAM, 'root', 'xc3512', T0);
  tcpConversation(wire, {
    client: NVR, server: CAM, sport: 41001, dport: 80, t0Us: T0 + 5e6, exchanges: [
      { from: 'c', data: httpGet({ host: CAM.ip, basicAuth: 'admin:meinsn' }) },
    ],
  });
  // 192.168.0.0/24 is a segment, but not watched
  telnet(wire, { mac: '02:00:00:00:00:05', ip: '192.168.0.5' }, { mac: '02:00:00:00:00:06', ip: '192.168.0.6' }, 'root', 'xc3511', T0 + 9e6);
  const r = await run(frames);
  t.same(r.creds, [], 'no credentials.default');
  t.ok(r.opened.some((a) => a.kind === 'protocol.plaintext'), 'the clear text itself is still reported');
  t.notMatch(everything(r.opened), /xc3512|meinsn/);
});

t.test('bounds: flows tracked, bytes per flow', async (t) => {
  const dict = CredentialDictionary.parse('root xc3511\n', 'a test list');
  // two logins at once; with room for one flow, the first one's state is dropped when the second starts
  const both = () => {
    const { wire, frames } = recorder();
    telnet(wire, ATTACKER, CAM, 'root', 'xc3511', T0, { sport: 40001 });
    telnet(wire, REMOTE2, CAM, 'root', 'xc3511', T0 + 10_000, { sport: 40002 });
    return frames;
  };
  const wide = await run(both(), { detectors: [credentialsDefaultDetectorWith({ dictionary: dict, maxFlows: 2 })] });
  t.equal(wide.creds.length, 2, 'two flows tracked: both found');
  const narrow = await run(both(), { detectors: [credentialsDefaultDetectorWith({ dictionary: dict, maxFlows: 1 })] });
  t.ok(narrow.before.loginFlowsDropped > 0, `flows dropped at the cap (${narrow.before.loginFlowsDropped})`);
  t.ok(narrow.creds.length < 2, 'one flow tracked at a time: a login is lost rather than memory');

  const banner = 'x'.repeat(400);
  const { wire, frames } = recorder();
  telnet(wire, ATTACKER, CAM, 'root', 'xc3511', T0, { banner });
  const capped = await run(frames, { detectors: [credentialsDefaultDetectorWith({ dictionary: dict, maxFlowBytes: 300 })] });
  t.same(capped.creds, [], 'past the byte cap the flow is no longer read');
  const uncapped = await run(frames, { detectors: [credentialsDefaultDetectorWith({ dictionary: dict })] });
  t.equal(uncapped.creds.length, 1, 'the same login under the default cap');
});

t.test('a real telnet capture (OpenBSD, line mode): read, and not in the bundled list', async (t) => {
  const policyText = `version: 1
segments:
  lab: ["192.168.0.0/24"]
watch: [lab]
resolvers: ["192.168.0.1"]
default_profile: open
profiles:
  open:
    allow: []
`;
  const feed = async (detectors?: DetectorDef[]) => {
    const opened: Anomaly[] = [];
    const policy = loadPolicyText(policyText, 'p.yaml').policy!;
    const pipeline = new Pipeline({
      policy: () => policy, ...(detectors ? { detectors: detectors } : {}),
      sinks: [{ name: 'rec', anomaly: (a, e) => { if (e === 'opened') opened.push(a); }, flush: async () => {}, close: async () => {} }],
    });
    await openCapture(capture('proto/ndpi-telnet.pcap')).run(pipeline.handleFrame);
    await pipeline.finish();
    return opened.filter((a) => a.kind === 'credentials.default');
  };
  t.same(await feed(), [], 'fake/user is no factory credential');
  const mine = await feed([credentialsDefaultDetectorWith({ dictionary: CredentialDictionary.parse('fake user\n', 'a test list') })]);
  t.equal(mine.length, 1, 'with the pair listed, the login is found');
  t.match(mine[0], { device: '00:00:c0:9f:a0:97', ip: '192.168.0.1', peer: '192.168.0.2', peerPort: 23 }, 'an unlisted device is named by its MAC');
  t.match(mine[0].message, /as "fake" with a factory-default password \(us\*\*\*\*, on a test list\)/);
});

t.test('segments as the engine gets them: a retransmission is read once, a gap starts the line over, a capture begun mid-flow', async (t) => {
  const { harness, start: startOf, DOORBELL_IP: ip } = await import('./helpers.js');
  /** feeds one login; segs: [from, text, seq offset (default: in order)] */
  const login = (segs: Array<['c' | 's', string, number?]>, fs = startOf({ src: '203.0.113.66', srcMac: GW_MAC, sport: 40000, dst: ip, dstMac: 'aa:bb:cc:00:00:01', dport: 23 })) => {
    const h = harness();
    const seq = { c: 1000, s: 5000 };
    for (const [from, text, at] of segs) {
      const buf = Buffer.from(text, 'latin1');
      const clientIsSrc = fs.dport === 23;
      const s = at ?? seq[from];
      h.engine.payload({
        flowId: fs.id, time: T0 / 1000, dir: (from === 'c') === clientIsSrc ? 0 : 1,
        sport: from === 'c' ? 40000 : 23, dport: from === 'c' ? 23 : 40000, seq: s, buf, off: 0, len: buf.length, what: 'port', start: () => fs,
      });
      seq[from] = Math.max(seq[from], s + buf.length);
    }
    h.engine.flush();
    return h.out.filter((a) => a.kind === 'credentials.default');
  };
  const prompt: Array<['c' | 's', string, number?]> = [['s', 'login: '], ['c', 'root\r\n'], ['s', 'Password: ']];
  t.equal(login([...prompt, ['c', 'x'], ['c', 'c'], ['c', 'c', 1007], ['c', '3511\r\n']]).length, 1, 'a keystroke sent twice (retransmitted) counts once');
  t.equal(login([...prompt, ['c', 'x'], ['c', 'xc', 1006], ['c', '3511\r\n']]).length, 1, 'a segment overlapping what was read counts its new bytes');
  t.equal(login([...prompt, ['c', 'xc'], ['c', '3511\r\n', 1020]]).length, 0, 'after lost bytes the line is not trusted');
  // the flow table's first packet came from the server (capture began mid-flow)
  const mid = startOf({ src: ip, srcMac: 'aa:bb:cc:00:00:01', sport: 23, dst: '203.0.113.66', dstMac: GW_MAC, dport: 40000, sureInitiator: false, tcpFlags: 0x18 });
  const found = login([...prompt, ['c', 'xc3511\r\n']], mid);
  t.equal(found.length, 1, 'mid-flow: the server is told by its port');
  t.match(found[0], { device: 'doorbell', peer: '203.0.113.66', peerPort: 23 });
});
