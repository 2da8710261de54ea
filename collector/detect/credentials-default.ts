// credentials.default: a login with a known factory credential (the Mirai botnet's list,
// data/mirai-botnet.txt) seen in clear text to or from a watched device: telnet (keystrokes
// put back together across segments, option negotiation skipped, the server's prompts telling
// which line is the user and which the password), FTP (USER / PASS) and HTTP Basic auth.
// The password is compared as bytes where it lies in the frame or in one small per-flow line
// buffer (wiped after each line), never turned into text, logged or shown: anomalies show its
// first characters and a mask.

import type { Proto } from '../types.js';
import type { AnomalyInit, Subject } from './anomaly.js';
import { portText, who } from './anomaly.js';
import type { DetectorDef, PayloadEvent } from './detector.js';
import { MIRAI_BOTNET_TXT } from './data/mirai-botnet.js';
import { authorizationValue } from '../decode/http.js';
import { Oldest } from '../oldest.js';

/** Server ports read as telnet and as FTP control. */
export const TELNET_PORTS: readonly number[] = [23, 2323];
export const FTP_PORTS: readonly number[] = [21];
/** memory cap: login flows read at once; beyond it the longest-tracked is dropped. */
export const LOGIN_MAX_FLOWS = 1024;
/** payload bytes read per flow, both directions; a login is over long before (then state is dropped). */
export const LOGIN_MAX_FLOW_BYTES = 16384;
/** bytes of one client line kept; a longer line is no credential. */
const LINE_MAX = 128;
/** server bytes remembered to recognise a prompt at the end of what it sent. */
const PROMPT_WINDOW = 32;
/** base64 characters of an Authorization value decoded, at most (a credential is short). */
const BASIC_MAX_B64 = 344;

/** The (user, password) pairs a login is matched against. Passwords are held as bytes. */
export class CredentialDictionary {
  private readonly byUser = new Map<string, Uint8Array[]>();
  size = 0;

  /** @param source how messages name the list, e.g. "the Mirai botnet's list" */
  constructor(readonly source: string) {}

  /**
   * One pair a line: user, one space, password (the rest of the line, trailing blanks
   * dropped); "(none)" is the empty password; blank lines and lines starting "#" skipped.
   */
  static parse(text: string, source: string): CredentialDictionary {
    const d = new CredentialDictionary(source);
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '');
      if (line === '' || line.startsWith('#')) continue;
      const sp = line.indexOf(' ');
      const user = sp < 0 ? line : line.slice(0, sp);
      let pass = sp < 0 ? '' : line.slice(sp + 1).replace(/[ \t]+$/, '');
      if (pass === '(none)') pass = '';
      d.add(user, pass);
    }
    return d;
  }

  add(user: string, pass: string): void {
    const l = this.byUser.get(user) ?? [];
    l.push(Uint8Array.from(Buffer.from(pass, 'utf8')));
    this.byUser.set(user, l);
    this.size++;
  }

  /** true when user has the password buf[off, off + len) (its trailing blanks not compared). */
  has(user: string, buf: Uint8Array, off: number, len: number): boolean {
    const l = this.byUser.get(user);
    if (!l) return false;
    while (len > 0 && (buf[off + len - 1] === 0x20 || buf[off + len - 1] === 0x09)) len--;
    for (const pw of l) {
      if (pw.length !== len) continue;
      let i = 0;
      while (i < len && pw[i] === buf[off + i]) i++;
      if (i === len) return true;
    }
    return false;
  }
}

/** The bundled dictionary: the Mirai botnet's telnet credentials (SecLists, MIT). */
export const MIRAI_DICTIONARY = CredentialDictionary.parse(MIRAI_BOTNET_TXT, "the Mirai botnet's list");

/**
 * What may be shown of a password: its first two characters and a fixed mask ("xc****");
 * fewer characters for a short one, so at least two stay hidden ("1****" for three); "(empty)".
 */
export function maskPassword(buf: Uint8Array, off: number, len: number): string {
  if (len <= 0) return '(empty)';
  const shown = Math.min(2, Math.max(0, len - 2));
  let s = '';
  for (let i = 0; i < shown; i++) s += printable(buf[off + i]);
  return s + '****';
}

function printable(c: number): string {
  return c >= 0x21 && c < 0x7f ? String.fromCharCode(c) : '?';
}

/** A user name as shown: printable ASCII, at most 32 characters. */
function userText(u: string): string {
  let s = '';
  for (let i = 0; i < u.length && i < 32; i++) s += printable(u.charCodeAt(i));
  return u.length > 32 ? s + '...' : s;
}

/** true when the password's bytes occur in text (then text is not shown either). */
function containsPassword(text: string, buf: Uint8Array, off: number, len: number): boolean {
  if (len === 0) return false;
  outer: for (let i = 0; i + len <= text.length; i++) {
    for (let j = 0; j < len; j++) if (text.charCodeAt(i + j) !== buf[off + j]) continue outer;
    return true;
  }
  return false;
}

const NONE = 0, USER = 1, PASS = 2;
const lower = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const USER_PROMPTS = ['login:', 'username:', 'user name:', 'user:', 'login as:'].map(lower);
const PASS_PROMPTS = ['password:', 'passwd:'].map(lower);

/** A telnet or FTP flow being read: who is who, and the login so far. */
class LoginFlow {
  bytes = 0;
  /** next expected TCP sequence number from the client and from the server; -1 unknown. */
  seqC = -1;
  seqS = -1;
  /** telnet command state per direction: 0 data, 1 after IAC, 2 option byte, 3 in SB, 4 IAC in SB. */
  iacC = 0;
  iacS = 0;
  readonly line = new Uint8Array(LINE_MAX);
  lineLen = 0;
  overflow = false;
  afterCr = false;
  /** the user name the last login line gave; null until one did. */
  user: string | null = null;
  /** which line the server's last prompt asks for (telnet). */
  expect = NONE;
  readonly win = new Uint8Array(PROMPT_WINDOW);
  winLen = 0;

  constructor(
    readonly telnet: boolean,
    readonly serverPort: number,
    /** the flow table's initiator is the server (a capture that began mid-flow). */
    readonly serverIsSrc: boolean,
    readonly deviceIp: string,
    readonly deviceMac: string,
    readonly peerIp: string,
    readonly deviceIsServer: boolean,
  ) {}
}

/** A flow on a login port whose payload is not read: no watched end, or read to its cap. */
const SKIP = 'skip';

export interface CredentialsDefaultOptions {
  dictionary?: CredentialDictionary;
  maxFlows?: number;
  maxFlowBytes?: number;
}

/** The detector with its own dictionary and caps (tests; the registry uses the defaults). */
export function credentialsDefaultDetectorWith(o: CredentialsDefaultOptions = {}): DetectorDef {
  const dict = o.dictionary ?? MIRAI_DICTIONARY;
  const maxFlows = o.maxFlows ?? LOGIN_MAX_FLOWS;
  const maxBytes = o.maxFlowBytes ?? LOGIN_MAX_FLOW_BYTES;
  const telnetPorts = new Set(TELNET_PORTS), ftpPorts = new Set(FTP_PORTS);
  const loginPort = (p: number) => telnetPorts.has(p) || ftpPorts.has(p);
  return {
    name: 'credentials-default',
    kinds: { 'credentials.default': 'critical' },
    create(ctx) {
      /** flow id -> its login state, or SKIP; insertion order is eviction order. */
      const flows = new Map<number, LoginFlow | typeof SKIP>();
      const flowsOldest = new Oldest(flows);
      let dropped = 0, found = 0;
      const scratch = new Uint8Array(Math.ceil(BASIC_MAX_B64 / 4) * 3);

      /** forgets a flow; a half-typed password in its line buffer is wiped first */
      const forget = (id: number) => {
        const fl = flows.get(id);
        if (fl !== undefined && fl !== SKIP) fl.line.fill(0);
        flows.delete(id);
      };

      const track = (id: number, v: LoginFlow | typeof SKIP) => {
        if (flows.size >= maxFlows) {
          forget(flowsOldest.key()!);
          dropped++;
        }
        flows.set(id, v);
      };

      /** the state of a login-port flow at its first payload: who serves, which end is watched. */
      const open = (ev: PayloadEvent): LoginFlow | typeof SKIP => {
        const fs = ev.start();
        if (!fs || fs.proto !== 'tcp') return SKIP;
        const serverIsSrc = !loginPort(fs.dport) && loginPort(fs.sport);
        const serverPort = serverIsSrc ? fs.sport : fs.dport;
        const [server, serverMac, client, clientMac] = serverIsSrc
          ? [fs.src, fs.srcMac, fs.dst, fs.dstMac] : [fs.dst, fs.dstMac, fs.src, fs.srcMac];
        const p = ctx.policy();
        // both watched: the server is the device whose factory password must change
        if (ctx.watched(p, server, fs.vlan)) return new LoginFlow(telnetPorts.has(serverPort), serverPort, serverIsSrc, server, serverMac, client, true);
        if (ctx.watched(p, client, fs.vlan)) return new LoginFlow(telnetPorts.has(serverPort), serverPort, serverIsSrc, client, clientMac, server, false);
        return SKIP;
      };

      const report = (time: number, deviceIp: string, deviceMac: string, peer: string, deviceIsServer: boolean,
        port: number, what: string, user: string, buf: Uint8Array, off: number, len: number) => {
        found++;
        const p = ctx.policy();
        const s: Subject = ctx.subject(p, deviceIp, deviceMac, true);
        const mask = maskPassword(buf, off, len);
        // a user name that holds the password (admin/admin) is masked too
        const u = containsPassword(user, buf, off, len) ? `${maskPassword(Buffer.from(user, 'latin1'), 0, user.length)} (the same as the password)` : userText(user);
        const svc = `${what} (${portText('tcp', port)})`;
        const cred = `as "${u}" with a factory-default password (${mask}, on ${dict.source})`;
        const message = deviceIsServer
          ? `${peer} sent ${who(s)} a login over ${svc} ${cred}: change the device's factory password${what === 'HTTP Basic auth' ? '' : ` and turn ${what} off on it`}`
          : `${who(s)} sent ${peer} a login over ${svc} ${cred}: a device trying botnet passwords is likely infected, so isolate and reset it; if the login is its own, change ${peer}'s factory password`;
        const init: AnomalyInit = {
          kind: 'credentials.default', time, subject: s, peer, peerName: '', peerPort: port, proto: 'tcp' as Proto,
          bytes: 0, packets: 0, rule: 'credentials.default', message,
        };
        ctx.reporter.report(init);
      };

      /** A client line ended (CR or LF): a user name, a password, or an FTP command. */
      const endLine = (fl: LoginFlow, time: number): boolean => {
        const b = fl.line, n = fl.lineLen;
        let hit = false;
        if (!fl.overflow) {
          if (fl.telnet) {
            if (fl.expect === USER) {
              fl.user = n > 0 ? Buffer.from(b.buffer, b.byteOffset, n).toString('latin1') : null;
              fl.expect = NONE;
            } else if (fl.expect === PASS) {
              if (fl.user !== null && dict.has(fl.user, b, 0, n)) hit = true;
              if (hit) report(time, fl.deviceIp, fl.deviceMac, fl.peerIp, fl.deviceIsServer, fl.serverPort, 'telnet', fl.user!, b, 0, n);
              fl.user = null;
              fl.expect = NONE;
            }
          } else if (n >= 4 && (b[0] | 0x20) === 0x75 && (b[1] | 0x20) === 0x73 && (b[2] | 0x20) === 0x65 && (b[3] | 0x20) === 0x72 && (n === 4 || b[4] === 0x20)) {
            // USER name
            fl.user = n > 5 ? Buffer.from(b.buffer, b.byteOffset + 5, n - 5).toString('latin1') : '';
          } else if (n >= 4 && (b[0] | 0x20) === 0x70 && (b[1] | 0x20) === 0x61 && (b[2] | 0x20) === 0x73 && (b[3] | 0x20) === 0x73 && (n === 4 || b[4] === 0x20)) {
            // PASS password
            const o = n > 5 ? 5 : n;
            if (fl.user !== null && dict.has(fl.user, b, o, n - o)) hit = true;
            if (hit) report(time, fl.deviceIp, fl.deviceMac, fl.peerIp, fl.deviceIsServer, fl.serverPort, 'FTP', fl.user!, b, o, n - o);
            fl.user = null;
          }
        }
        b.fill(0, 0, n);
        fl.lineLen = 0;
        fl.overflow = false;
        return hit;
      };

      /** One client data byte (telnet commands already taken out); true when a login matched. */
      const clientByte = (fl: LoginFlow, c: number, time: number): boolean => {
        if (fl.afterCr) {
          fl.afterCr = false;
          if (c === 0x0a || c === 0x00) return false; // CR LF, CR NUL: one line end
        }
        if (c === 0x0d) {
          fl.afterCr = true;
          return endLine(fl, time);
        }
        if (c === 0x0a) return endLine(fl, time);
        if (fl.telnet) {
          if (c === 0x08 || c === 0x7f) { if (fl.lineLen > 0) fl.line[--fl.lineLen] = 0; return false; }
          if (c === 0x15) { fl.line.fill(0, 0, fl.lineLen); fl.lineLen = 0; return false; } // ^U: kill line
          if (c === 0x00) return false;
        }
        if (fl.lineLen < LINE_MAX) fl.line[fl.lineLen++] = c;
        else fl.overflow = true;
        return false;
      };

      const serverByte = (fl: LoginFlow, c: number): void => {
        const w = fl.win;
        if (fl.winLen === PROMPT_WINDOW) w.copyWithin(0, 1);
        else fl.winLen++;
        w[fl.winLen - 1] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      };

      /** After a server segment: does what it sent end with a login or password prompt? */
      const prompt = (fl: LoginFlow): void => {
        const w = fl.win;
        let end = fl.winLen;
        while (end > 0 && (w[end - 1] === 0x20 || w[end - 1] === 0x09 || w[end - 1] === 0x00)) end--;
        const endsWith = (word: Uint8Array) => {
          if (word.length > end) return false;
          for (let i = 0; i < word.length; i++) if (w[end - word.length + i] !== word[i]) return false;
          return true;
        };
        let asks = NONE;
        for (const q of PASS_PROMPTS) if (endsWith(q)) asks = PASS;
        if (asks === NONE) for (const q of USER_PROMPTS) if (endsWith(q)) asks = USER;
        if (asks === NONE) return;
        fl.expect = asks;
        // what the client typed before the prompt is not the answer to it
        fl.line.fill(0, 0, fl.lineLen);
        fl.lineLen = 0;
        fl.overflow = false;
        fl.afterCr = false;
        fl.winLen = 0;
      };

      /** Telnet: one byte through the command filter; returns the data byte or -1. */
      const telnetData = (state: number, c: number): number => {
        // state in iac: returned packed as (newState << 9) | (data + 1), data + 1 = 0 for none
        switch (state) {
          case 0:
            return c === 255 ? (1 << 9) : (c + 1);
          case 1:
            if (c === 255) return 256;                       // IAC IAC: a literal 255
            if (c >= 251 && c <= 254) return 2 << 9;         // WILL WONT DO DONT + option
            if (c === 250) return 3 << 9;                    // SB ... IAC SE
            if (c === 247) return 0x08 + 1;                  // EC: erase character
            if (c === 248) return 0x15 + 1;                  // EL: erase line
            return 0;                                        // other two-byte commands
          case 2:
            return 0;
          case 3:
            return c === 255 ? 4 << 9 : 3 << 9;
          default:
            return c === 240 ? 0 : 3 << 9;                   // IAC SE ends it; IAC IAC stays in SB
        }
      };

      const segment = (fl: LoginFlow, ev: PayloadEvent, fromClient: boolean): boolean => {
        let off = ev.off, len = ev.len;
        // retransmitted bytes are read once; after a gap (a lost segment) the line starts over
        const want = fromClient ? fl.seqC : fl.seqS;
        if (want >= 0) {
          const d = (ev.seq - want) | 0;
          if (d < 0) {
            if (-d >= len) return false;
            off -= d; len += d;
          } else if (d > 0 && fromClient) {
            fl.line.fill(0, 0, fl.lineLen);
            fl.lineLen = 0; fl.afterCr = false; fl.iacC = 0;
          } else if (d > 0) {
            fl.iacS = 0;
          }
        }
        const next = (ev.seq + (off - ev.off) + len) >>> 0;
        if (fromClient) fl.seqC = next; else fl.seqS = next;
        const b = ev.buf, end = off + len;
        if (fromClient) {
          for (let i = off; i < end; i++) {
            let c = b[i];
            if (fl.telnet) {
              const r = telnetData(fl.iacC, c);
              fl.iacC = r >> 9;
              if ((r & 0x1ff) === 0) continue;
              c = (r & 0x1ff) - 1;
            }
            if (clientByte(fl, c, ev.time)) return true;
          }
        } else if (fl.telnet) {
          for (let i = off; i < end; i++) {
            const r = telnetData(fl.iacS, b[i]);
            fl.iacS = r >> 9;
            if ((r & 0x1ff) !== 0) serverByte(fl, (r & 0x1ff) - 1);
          }
          prompt(fl);
        }
        return false;
      };

      /** HTTP Basic: the credential of the Authorization header in this request head. */
      const basic = (ev: PayloadEvent): void => {
        const b = ev.buf, start = ev.off, end = ev.off + Math.min(ev.len, 8192);
        let v = authorizationValue(b, start, end);
        if (v < 0) return;
        // "Basic" and blanks
        if (v + 5 > end || (b[v] | 0x20) !== 0x62 || (b[v + 1] | 0x20) !== 0x61 || (b[v + 2] | 0x20) !== 0x73 ||
          (b[v + 3] | 0x20) !== 0x69 || (b[v + 4] | 0x20) !== 0x63) return;
        v += 5;
        while (v < end && (b[v] === 0x20 || b[v] === 0x09)) v++;
        const n = base64Decode(b, v, end, scratch);
        try {
          if (n <= 0) return;
          const colon = scratch.indexOf(0x3a);
          if (colon < 0 || colon >= n) return;
          const user = Buffer.from(scratch.buffer, scratch.byteOffset, colon).toString('utf8');
          if (!dict.has(user, scratch, colon + 1, n - colon - 1)) return;
          const fs = ev.start();
          if (!fs) return;
          // the request's sender is the client
          const [client, clientMac, server, serverMac] = ev.dir === 0
            ? [fs.src, fs.srcMac, fs.dst, fs.dstMac] : [fs.dst, fs.dstMac, fs.src, fs.srcMac];
          const p = ctx.policy();
          if (ctx.watched(p, server, fs.vlan)) report(ev.time, server, serverMac, client, true, ev.dport, 'HTTP Basic auth', user, scratch, colon + 1, n - colon - 1);
          else if (ctx.watched(p, client, fs.vlan)) report(ev.time, client, clientMac, server, false, ev.dport, 'HTTP Basic auth', user, scratch, colon + 1, n - colon - 1);
        } finally {
          scratch.fill(0);
        }
      };

      return {
        payloadPorts: [...TELNET_PORTS, ...FTP_PORTS],
        payload(ev) {
          if (ev.what === 'http-basic-auth') {
            basic(ev);
            return;
          }
          let fl = flows.get(ev.flowId);
          if (fl === undefined) {
            fl = open(ev);
            track(ev.flowId, fl);
          }
          if (fl === SKIP) return;
          fl.bytes += ev.len;
          const fromClient = ev.sport === ev.dport ? (ev.dir === 0) !== fl.serverIsSrc : ev.dport === fl.serverPort;
          const hit = segment(fl, ev, fromClient);
          // a login found, or read as far as a login goes: the flow's state is dropped
          if (hit || fl.bytes >= maxBytes) {
            fl.line.fill(0);
            flows.set(ev.flowId, SKIP);
          }
        },
        flowRecord(r) {
          if (r.final && flows.size > 0) forget(r.id);
        },
        stats() {
          return { loginFlows: flows.size, loginFlowsDropped: dropped, defaultCredentials: found };
        },
      };
    },
  };
}

export const credentialsDefaultDetector: DetectorDef = credentialsDefaultDetectorWith();

function b64(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c === 0x2b || c === 0x2d) return 62;
  if (c === 0x2f || c === 0x5f) return 63;
  return -1;
}

/**
 * Decodes the base64 token at buf[off, end) (up to a blank, CR, LF or "=") into out; returns
 * the bytes written, or -1 for a token longer than out holds or with a bad character.
 */
function base64Decode(buf: Uint8Array, off: number, end: number, out: Uint8Array): number {
  let acc = 0, bits = 0, n = 0;
  for (let i = off; i < end; i++) {
    const c = buf[i];
    if (c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09 || c === 0x3d) break;
    const v = b64(c);
    if (v < 0) return -1;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= out.length) return -1;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return n;
}
