// protocol.plaintext: a clear-text protocol (telnet, FTP, plain MQTT, ... or HTTP Basic
// auth seen by the pipeline) to or from a watched device. Reported even when the policy
// allows the flow: the finding is about the protocol, not the peer.

import type { Proto } from '../types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import { portText, who } from './anomaly.js';
import type { PlaintextPort } from './settings.js';
import type { DetectorDef } from './detector.js';
import { orient } from './flow.js';

export function plaintextPort(ports: readonly PlaintextPort[], proto: Proto, port: number): PlaintextPort | undefined {
  for (const p of ports) if (p.port === port && p.proto === proto) return p;
  return undefined;
}

/**
 * @param opened true when the subject device opened the flow (it is the client), false
 *   when someone opened it to the device (it serves the protocol).
 * @param what protocol name, e.g. "telnet", or "http-basic-auth"
 */
export function protocolPlaintext(s: Subject, time: number, peer: string, proto: Proto, port: number, what: string,
  opened: boolean, bytes: number, packets: number): AnomalyInit {
  const svc = `${portText(proto, port)} (${what === 'http-basic-auth' ? 'HTTP Basic auth' : what})`;
  const message = opened
    ? `${who(s)} opened ${svc} to ${peer}, which sends credentials in clear text: switch the device to an encrypted protocol or block the port`
    : `${peer} opened ${svc} to ${who(s)}, which serves it in clear text: disable that service on the device or block the port`;
  return {
    kind: 'protocol.plaintext', time, subject: s,
    peer, peerName: '', peerPort: port, proto, bytes, packets,
    rule: what === 'http-basic-auth' ? 'plaintext.http-basic-auth' : `plaintextPorts.${what}`,
    message,
  };
}

export const protocolPlaintextDetector: DetectorDef = {
  name: 'protocol-plaintext',
  kinds: { 'protocol.plaintext': 'high' },
  create(ctx) {
    return {
      flowStart(j) {
        if (j.consumed) return;
        const f = j.f;
        const pt = plaintextPort(ctx.settings.plaintextPorts, f.proto, f.dport);
        if (!pt) return;
        const s = j.srcWatched ? ctx.subject(j.policy, f.src, f.srcMac, true) : ctx.subject(j.policy, f.dst, f.dstMac, true);
        ctx.reporter.report(protocolPlaintext(s, f.time, j.srcWatched ? f.dst : f.src, f.proto, f.dport, pt.name, j.srcWatched, f.bytes, 1));
      },
      signal(fs, what) {
        const p = ctx.policy();
        const f = orient(fs);
        const srcWatched = ctx.watched(p, f.src, f.vlan);
        if (!srcWatched && !ctx.watched(p, f.dst, f.vlan)) return;
        const s = srcWatched ? ctx.subject(p, f.src, f.srcMac, true) : ctx.subject(p, f.dst, f.dstMac, true);
        ctx.reporter.report(protocolPlaintext(s, f.time, srcWatched ? f.dst : f.src, f.proto, f.dport, what, srcWatched, 0, 0));
      },
    };
  },
};
