// The libpcap-backed file reader of the benchmarks agrees with the TypeScript reader on real captures.

import t from 'tap';
import { capture, skipUnless } from '../helpers/paths.js';
import { openLibpcapFile } from '../../bench/libpcap-file.js';
import { openCapture } from '../../collector/sources/pcap-file.js';
import { loadPcap } from '../../collector/sources/libpcap.js';

const havePcap = await loadPcap().then(() => true, () => false);

const FILES = ['iot/ndpi-nest_log_sink.pcap', 'iot/ndpi-sonos.pcapng', 'decode/zeek-linuxsll-arp.pcap', 'decode/zeek-empty.pcap'];

for (const f of FILES) {
  t.test(f, { skip: skipUnless(havePcap, 'needs pcap package') }, async (t) => {
    const a: number[][] = [];
    const b: number[][] = [];
    await openCapture(capture(f)).run((buf, off, cap, wire, ts, lt) => a.push([cap, wire, Math.round(ts * 1000), lt, buf[off + cap - 1]]));
    await openLibpcapFile(capture(f)).run((buf, off, cap, wire, ts, lt) => b.push([cap, wire, Math.round(ts * 1000), lt, buf[off + cap - 1]]));
    t.equal(b.length, a.length, 'frame count');
    t.same(b, a, 'lengths, microsecond timestamps, link type, last byte');
  });
}
