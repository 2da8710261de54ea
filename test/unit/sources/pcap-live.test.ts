// Live capture for real on the loopback interface (needs root or CAP_NET_RAW, and the optional
// pcap package), plus the nonexistent-interface error.

import t from 'tap';
import { skipUnless } from '../../helpers/paths.js';
import { createSocket } from 'node:dgram';
import { openLive, LiveCaptureError } from '../../../collector/sources/pcap-live.js';
import { pcapInstalled } from '../../../collector/sources/libpcap.js';

// not loaded here: the addon loads in one thread of a process, the capture thread's
const havePcap = pcapInstalled();
const isRoot = process.getuid?.() === 0;

t.test('UDP datagrams on lo are captured with their lengths', { skip: skipUnless(havePcap && isRoot, 'needs pcap package and root') }, async (t) => {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const src = openLive({ iface: 'lo', filter: `udp and dst port ${port}`, bufferTimeoutMs: 10, statsIntervalMs: 200 });
  const frames: { caplen: number; wirelen: number; ts: number; lt: number; dport: number; payload: number }[] = [];
  const done = src.run((buf, off, caplen, wirelen, ts, lt) => {
    // lo is Ethernet-framed: 14 + IPv4 20 + UDP 8
    frames.push({ caplen, wirelen, ts, lt, dport: buf.readUInt16BE(off + 36), payload: buf.readUInt16BE(off + 38) - 8 });
  });
  await src.started();
  const sock = createSocket('udp4');
  const sizes = [1, 100, 1000, 1472, 0];
  const before = Date.now();
  for (const n of sizes) {
    await new Promise<void>((res, rej) => sock.send(Buffer.alloc(n, 0x61), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  }
  const deadline = Date.now() + 5000;
  while (frames.length < sizes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // a chance for extra (unexpected) frames and a stats poll
  src.stop();
  await done;
  // node-pcap frees a stopped session's handle (and the poll keeping the process alive) only
  // at the next packet the interface delivers: send one more, which must not be delivered.
  await new Promise<void>((res, rej) => sock.send(Buffer.alloc(5), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  await new Promise((r) => setTimeout(r, 200));
  sock.close();
  t.equal(frames.length, sizes.length, 'every datagram captured, nothing else');
  t.same(frames.map((f) => f.payload), sizes, 'UDP payload sizes in order');
  t.same(frames.map((f) => f.wirelen), sizes.map((n) => 14 + 20 + 8 + n), 'wire lengths');
  t.same(frames.map((f) => f.caplen), sizes.map((n) => 14 + 20 + 8 + n), 'captured lengths');
  t.ok(frames.every((f) => f.lt === 1 && f.dport === port), 'Ethernet link type, our port');
  t.ok(frames.every((f) => f.ts >= before - 1000 && f.ts <= Date.now() + 1000), 'timestamps are wall time');
  const st = src.stats();
  t.equal(st.packets, sizes.length);
  t.equal(st.drops, 0);
});

t.test('a nonexistent interface is a clear error', { skip: skipUnless(havePcap, 'needs pcap package') }, async (t) => {
  const src = openLive({ iface: 'nosuch0' });
  const err = await src.run(() => {}).then(() => undefined, (e: unknown) => e);
  t.type(err, LiveCaptureError);
  t.equal((err as LiveCaptureError).code, 'no_interface');
  t.match((err as Error).message, /interface "nosuch0" does not exist/);
  await t.rejects(src.started(), /nosuch0/);
});

t.test('a bad BPF filter is reported as such', { skip: skipUnless(havePcap && isRoot, 'needs pcap package and root') }, async (t) => {
  const src = openLive({ iface: 'lo', filter: 'udp and and port' });
  const err = await src.run(() => {}).then(() => undefined, (e: unknown) => e);
  t.type(err, LiveCaptureError);
  t.match((err as Error).message, /udp and and port/);
});
