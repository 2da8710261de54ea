// Worker-thread entry of the NetFlow/IPFIX receiver: binds the UDP sockets and copies every
// datagram into the shared ring, so the sockets are drained while the main thread decodes and
// judges. Nothing here decodes: templates and the records' consumer stay on one thread.

import { parentPort, workerData } from 'node:worker_threads';
import { createSocket, type Socket } from 'node:dgram';
import { DatagramRingWriter, type DatagramRingMemory } from './datagram-ring.js';

export interface FlowExportThreadData {
  mem: DatagramRingMemory;
  listen: Array<{ address: string; port: number }>;
  /** SO_RCVBUF asked for, bytes. */
  recvBufferSize: number;
}

/** Posted once: every socket bound (with its effective receive buffer), or why not. */
export type FlowExportThreadReady =
  | { ok: true; sockets: Array<{ address: string; port: number; recvBufferSize: number }> }
  | { ok: false; error: string };

async function main(): Promise<void> {
  const { mem, listen, recvBufferSize } = workerData as FlowExportThreadData;
  const ring = new DatagramRingWriter(mem);
  const sockets: Socket[] = [];
  const bound: Array<{ address: string; port: number; recvBufferSize: number }> = [];
  try {
    for (const l of listen) {
      const v6 = l.address.includes(':');
      const s = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, reuseAddr: false });
      sockets.push(s);
      s.on('message', (msg, rinfo) => { ring.write(msg, rinfo.address); });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(l.port, l.address, () => { s.off('error', reject); resolve(); });
      });
      // the kernel caps SO_RCVBUF at net.core.rmem_max (and reports double what it keeps)
      try { s.setRecvBufferSize(recvBufferSize); } catch { /* capped below: reported as read back */ }
      s.on('error', () => { /* a socket error after bind (ICMP errors on some systems) drops nothing */ });
      const a = s.address();
      bound.push({ address: a.address, port: a.port, recvBufferSize: s.getRecvBufferSize() });
    }
  } catch (err) {
    for (const s of sockets) { try { s.close(); } catch { /* not bound */ } }
    parentPort?.postMessage({ ok: false, error: (err as Error).message } satisfies FlowExportThreadReady);
    return;
  }
  parentPort?.postMessage({ ok: true, sockets: bound } satisfies FlowExportThreadReady);
  parentPort?.on('message', (m: unknown) => {
    if (m === 'stop') {
      for (const s of sockets) s.close();
      parentPort?.close();
    }
  });
}

void main();
