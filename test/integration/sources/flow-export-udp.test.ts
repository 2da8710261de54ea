// The NetFlow/IPFIX receiver on real UDP sockets (127.0.0.1 and ::1 only): records arrive as
// joined flows, the exporter allowlist and the ifIndex list drop what they should, the
// effective receive buffer is reported, and a stalled consumer's queue drops are counted.

import t from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { FlowExportUdpSource, parseFlowListen } from '../../../collector/sources/flow-export-udp.js';
import type { FlowRecord, Log } from '../../../collector/types.js';
import { v5Datagram, type V5Flow } from '../../helpers/netflow-v5.js';

const now = Date.now();
const out: V5Flow = { src: '192.168.50.10', dst: '203.0.113.5', sport: 50000, dport: 443, proto: 6, packets: 10, bytes: 1000, start: now - 5000, end: now - 1000, inIf: 3, outIf: 1 };
const back: V5Flow = { src: '203.0.113.5', dst: '192.168.50.10', sport: 443, dport: 50000, proto: 6, packets: 8, bytes: 9000, start: now - 4990, end: now - 1000, inIf: 1, outIf: 3 };

function send(sock: Socket, buf: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => sock.send(buf, port, host, (e) => (e ? reject(e) : resolve())));
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function logger(lines: string[]): Log {
  const f = (o: unknown, m?: string) => { lines.push(`${m ?? ''} ${JSON.stringify(o)}`); };
  return { debug: f, info: f, warn: f, error: f };
}

t.test('[ADDR:]PORT: loopback by default, IPv6 in brackets', async (t) => {
  t.same(parseFlowListen('2055'), { address: '127.0.0.1', port: 2055 });
  t.same(parseFlowListen('0.0.0.0:2055'), { address: '0.0.0.0', port: 2055 });
  t.same(parseFlowListen('[::]:4739'), { address: '::', port: 4739 });
  t.throws(() => parseFlowListen('::1:2055'), /\[ADDR:\]PORT/);
  t.throws(() => parseFlowListen('host:99999'), /port/);
  t.throws(() => parseFlowListen('example.org:2055'), /address/);
});

for (const host of ['127.0.0.1', '::1']) {
  t.test(`records over UDP on ${host}: joined, allowlist and ifIndex list applied, rcvbuf reported`, async (t) => {
    const log: string[] = [];
    const src = new FlowExportUdpSource({
      listen: [{ address: host, port: 0 }], log: logger(log), recvBufferSize: 1 << 20, join: { windowMs: 200 },
      // the sender is allowed; nothing else is
      exporters: [host],
      interfaces: { [host]: [3] },
    });
    const [bound] = await src.start();
    t.ok(bound.port > 0, `bound ${bound.port}`);
    t.ok(bound.recvBufferSize > 0, `effective receive buffer ${bound.recvBufferSize} bytes`);
    t.match(log.join('\n'), /receiver listening|capped by the kernel/, 'the effective buffer is logged');
    const flows: FlowRecord[] = [];
    const running = src.run((r) => flows.push(r));
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    t.teardown(() => sock.close());
    // kept: in 3 or out 3; dropped: neither on interface 3 (the WAN side's copy)
    const wan: V5Flow = { ...out, src: '198.51.100.7', inIf: 1, outIf: 2 };
    await send(sock, v5Datagram([back, out, wan]), bound.port, host);
    await until(() => flows.length >= 1);
    t.equal(flows.length, 1, 'one flow for the conversation');
    t.match(flows[0], { src: out.src, sport: 50000, dst: out.dst, dport: 443, packets: 10, bytes: 1000, packetsRev: 8, bytesRev: 9000, origin: 'netflow', exporter: host, sureInitiator: true });
    await until(() => src.stats().filtered >= 1);
    t.equal(src.stats().filtered, 1, 'the record of other interfaces is dropped and counted');
    t.equal(src.stats().datagrams, 1);
    t.equal(src.stats().records, 3);
    src.stop();
    await running;
    t.equal(src.stats().drops, 0);
  });
}

t.test('datagrams from exporters outside the allowlist are refused and counted', async (t) => {
  const src = new FlowExportUdpSource({ listen: [{ address: '127.0.0.1', port: 0 }], exporters: ['192.0.2.1'] });
  const [bound] = await src.start();
  const flows: FlowRecord[] = [];
  const running = src.run((r) => flows.push(r));
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  for (let i = 0; i < 5; i++) await send(sock, v5Datagram([out]), bound.port, '127.0.0.1');
  await until(() => src.stats().refused >= 5);
  src.stop();
  await running;
  t.equal(src.stats().refused, 5);
  t.equal(flows.length, 0);
});

t.test('a consumer that stalls: the queue fills, its drops are counted, the rest arrive', async (t) => {
  const src = new FlowExportUdpSource({ listen: [{ address: '127.0.0.1', port: 0 }], ringBytes: 1, recvBufferSize: 8 << 20 });
  const [bound] = await src.start();
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  // nobody reads the ring yet (run() not called): 400 datagrams of ~1.5 kB into a ~130 kB ring
  const flows30 = Array.from({ length: 30 }, (_, i) => ({ ...out, sport: 1024 + i }));
  const N = 400;
  for (let i = 0; i < N; i++) await send(sock, v5Datagram(flows30, { sequence: i * 30 }), bound.port, '127.0.0.1');
  await until(() => src.stats().datagrams + 0 >= N, 5000);
  const s = src.stats();
  t.equal(s.datagrams, N, 'every datagram was taken from the socket');
  t.ok(s.drops > 0, `${s.drops} dropped at the full queue`);
  t.ok(s.queue > 0, `${s.queue} bytes queued`);
  let n = 0;
  const running = src.run(() => { n++; });
  await until(() => src.stats().records >= (N - s.drops) * 30);
  src.stop();
  await running;
  t.equal(src.stats().records, (N - s.drops) * 30, 'what was queued is decoded');
  t.ok(n > 0);
});

t.test('a receive buffer above net.core.rmem_max: the cap and how to raise it are logged', async (t) => {
  const log: string[] = [];
  const src = new FlowExportUdpSource({ listen: [{ address: '127.0.0.1', port: 0 }], recvBufferSize: 1 << 30, log: logger(log) });
  const [bound] = await src.start();
  await src.close();
  t.ok(bound.recvBufferSize < 2 * (1 << 30), `granted ${bound.recvBufferSize}`);
  t.match(log.join('\n'), /capped by the kernel.*net\.core\.rmem_max=1073741824/);
});

t.test('garbage, truncated and empty datagrams: counted as malformed, the receiver goes on', async (t) => {
  const src = new FlowExportUdpSource({ listen: [{ address: '127.0.0.1', port: 0 }], join: { windowMs: 100 } });
  const [bound] = await src.start();
  const flows: FlowRecord[] = [];
  const running = src.run((r) => flows.push(r));
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const good = v5Datagram([out]);
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  await send(sock, Buffer.alloc(0), bound.port, '127.0.0.1');
  await send(sock, good.subarray(0, 30), bound.port, '127.0.0.1');
  for (let i = 0; i < 50; i++) await send(sock, Buffer.from(Array.from({ length: 1 + rnd() * 4 }, rnd)), bound.port, '127.0.0.1');
  await send(sock, good, bound.port, '127.0.0.1');
  await until(() => flows.length >= 1 && src.stats().datagrams >= 53);
  src.stop();
  await running;
  const s = src.stats();
  t.equal(s.datagrams, 53);
  t.ok(s.malformed >= 40, `${s.malformed} malformed`);
  t.equal(flows.length, 1, 'the good datagram after them still decodes');
});

t.test('a receiver thread that dies ends run() with an error, not a silent wait', async (t) => {
  const src = new FlowExportUdpSource({ listen: [{ address: '127.0.0.1', port: 0 }] });
  await src.start();
  const running = src.run(() => {});
  // what a crash of the thread looks like from here
  await (src as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  await t.rejects(Promise.race([running, new Promise((_, rej) => setTimeout(() => rej(new Error('still waiting')), 3000))]), /receiver thread ended/);
});
