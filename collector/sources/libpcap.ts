// Loads the optional `pcap` npm package (libpcap bindings) on demand, so segwatch runs without
// it and only live capture (or the libpcap file reader) asks for it. Typed minimally here.

import { EventEmitter } from 'node:events';
import { endianness } from 'node:os';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FrameHandler } from './source.js';

export interface PcapPacket {
  /** the session's reused snaplen-sized buffer; the frame is buf[0, min(caplen, buf.length)) */
  buf: Buffer;
  /** native-endian u32s: tv_sec, tv_usec, caplen, len */
  header: Buffer;
  link_type: string;
}

export interface PcapSessionLike extends EventEmitter {
  readonly link_type: string;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

export interface PcapModule {
  createSession(device: string, options?: {
    filter?: string; buffer_size?: number; snap_length?: number; monitor?: boolean;
    buffer_timeout?: number; promiscuous?: boolean;
  }): PcapSessionLike;
  createOfflineSession(path: string, options?: { filter?: string }): PcapSessionLike;
  findalldevs(): { name: string; flags?: string; addresses?: unknown[] }[];
  lib_version: string;
  warningHandler: (msg: string) => void;
}

export const PCAP_MISSING_HELP =
  'the optional "pcap" package (libpcap bindings) is not available: install libpcap-dev and run npm rebuild pcap';

/**
 * node-pcap's native binding itself, without its JavaScript wrapper. The wrapper's live session
 * starts a libuv poll on the capture's descriptor that nothing ever closes: harmless on the main
 * thread, but a worker thread whose loop still holds it aborts the process when it ends. The
 * capture thread drives the binding directly (dispatch() in its own loop), so no poll is made.
 */
export interface PcapBinding {
  PcapSession: new () => PcapBindingSession;
  findalldevs(): { name: string }[];
  lib_version(): string;
}

export interface PcapBindingSession {
  /** returns the link type name; throws libpcap's error */
  open_live(device: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
    onPacket: () => void, monitor: boolean, timeoutMs: number, onWarning: (msg: string) => void, promiscuous: boolean): string;
  /** delivers every packet readable now (non-blocking handle), one onPacket call each; the count, -2 once closed */
  dispatch(buf: Buffer, header: Buffer): number;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

function bindingPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve('pcap/package.json')), 'build/Release/pcap_binding.node');
}

/**
 * Whether the binding is installed, without loading it: the addon is not context-aware and
 * loads in one thread of a process only, which live capture keeps for its capture thread.
 */
export function pcapInstalled(): boolean {
  try { return existsSync(bindingPath()); } catch { return false; }
}

/** The binding, or a throw whose message says how to install it. */
export function loadPcapBinding(): PcapBinding {
  const require = createRequire(import.meta.url);
  try {
    return require(bindingPath()) as PcapBinding;
  } catch (e) {
    throw new Error(`${PCAP_MISSING_HELP} (${(e as Error).message})`);
  }
}

let cached: Promise<PcapModule> | undefined;

/** The pcap module, or a rejection whose message says how to install it. */
export function loadPcap(): Promise<PcapModule> {
  cached ??= (async () => {
    // A computed specifier keeps TypeScript (and bundlers) from requiring the optional package.
    const spec = 'pcap';
    try {
      const mod = (await import(spec)) as { default?: PcapModule } & PcapModule;
      const pcap = (mod.default ?? mod) as PcapModule;
      // libpcap warnings (e.g. no IPv4 address on the interface) are not errors for us.
      pcap.warningHandler = () => {};
      return pcap;
    } catch (e) {
      cached = undefined;
      throw new Error(`${PCAP_MISSING_HELP} (${(e as Error).message})`);
    }
  })();
  return cached;
}

const LINKTYPE_BY_NAME: Record<string, number> = {
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_RAW: 101,
  LINKTYPE_IEEE802_11_RADIO: 127,
  LINKTYPE_LINUX_SLL: 113,
};

/** LINKTYPE_* number from node-pcap's link_type string ("LINKTYPE_ETHERNET", "Unknown linktype 276"). */
export function linkTypeNumber(name: string): number {
  const n = LINKTYPE_BY_NAME[name];
  if (n !== undefined) return n;
  const m = /(\d+)\s*$/.exec(name);
  return m ? Number(m[1]) : -1;
}

const HOST_LE = endianness() === 'LE';

/**
 * Hands one node-pcap packet to a FrameHandler. Its header is libpcap's struct pcap_pkthdr in
 * host byte order (tv_sec, tv_usec, caplen, len as 32-bit words on the platforms node-pcap builds for).
 */
export function deliverPacket(p: PcapPacket, linkType: number, counts: { packets: number; bytes: number }, onFrame: FrameHandler): void {
  const h = p.header;
  const sec = HOST_LE ? h.readUInt32LE(0) : h.readUInt32BE(0);
  const usec = HOST_LE ? h.readUInt32LE(4) : h.readUInt32BE(4);
  let caplen = HOST_LE ? h.readUInt32LE(8) : h.readUInt32BE(8);
  const wirelen = HOST_LE ? h.readUInt32LE(12) : h.readUInt32BE(12);
  if (caplen > p.buf.length) caplen = p.buf.length;
  counts.packets++;
  counts.bytes += caplen;
  onFrame(p.buf, 0, caplen, wirelen, sec * 1000 + usec / 1000, linkType);
}
