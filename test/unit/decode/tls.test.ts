// tlsSni on real ClientHellos compared with tshark, on views at an offset, and on cut records.
import t from 'tap';
import { tlsSni } from '../../../collector/decode/tls.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

const NO_REASSEMBLY = ['-o', 'tcp.analyze_sequence_numbers:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-o', 'tls.desegment_ssl_records:FALSE'];

for (const [rel, min] of [['iot/ndpi-alexa-app.pcapng', 60], ['iot/iotsentinel/WeMoLink-Setup-A-1-STA.pcap', 5], ['iot/ndpi-sonos.pcapng', 1],
  ['iot/iotsentinel/WeMoSwitch-Setup-A-1-STA.pcap', 1]] as const) {
  t.test(`${rel} matches tshark`, async (tt) => {
    const rows = tsharkFields(capture(rel), ['frame.number', 'tls.handshake.extensions_server_name'], 'tls.handshake.type == 1 && tcp', NO_REASSEMBLY);
    const want = new Map(rows.map((r) => [Number(r[0]), r[1] === '' ? null : r[1].toLowerCase()]));
    let named = 0, hellos = 0, falsePositives = 0;
    eachPacket(capture(rel), (p, n) => {
      if (!(p.hasL4 && p.proto === 6 && p.payloadLength > 0)) return;
      const got = tlsSni(p.buf, p.payloadOffset, p.payloadLength);
      if (want.has(n)) {
        hellos++;
        tt.equal(got, want.get(n), `frame ${n}`);
        if (got) named++;
      } else if (got !== null) falsePositives++;
    });
    tt.equal(hellos, rows.length, 'every ClientHello tshark saw was offered to tlsSni');
    tt.equal(falsePositives, 0, 'no SNI from segments that are not ClientHellos');
    tt.ok(named >= min, `${named} names (want >= ${min})`);
  });
}

t.test('a ClientHello on a Uint8Array view at an offset; every truncation returns null or the name', async (tt) => {
  let hello: Uint8Array | null = null, name: string | null = null;
  eachPacket(capture('iot/ndpi-sonos.pcapng'), (p) => {
    if (hello || !(p.hasL4 && p.payloadLength > 0)) return;
    const s = tlsSni(p.buf, p.payloadOffset, p.payloadLength);
    if (s) { hello = Uint8Array.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)); name = s; }
  });
  tt.ok(hello && name, `found ClientHello for ${name}`);
  const h = hello!;
  const backing = new ArrayBuffer(h.length + 64);
  const view = new Uint8Array(backing, 13, h.length + 40);
  view.set(h, 21);
  tt.equal(tlsSni(view, 21, h.length), name);
  let nulls = 0;
  for (let cut = 0; cut < h.length; cut++) {
    const got = tlsSni(view, 21, cut);
    if (got === null) nulls++;
    else tt.fail(`a hello cut to ${cut} bytes still gave a name`);
  }
  tt.equal(nulls, h.length, 'an incomplete record is null');
  tt.equal(tlsSni(view, 21, h.length + 10), name, 'bytes after the record are ignored');
});
