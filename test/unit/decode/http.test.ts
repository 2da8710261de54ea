// httpHost and httpBasicAuth on real HTTP requests compared with tshark, plus synthetic heads.
import t from 'tap';
import { httpHost, httpBasicAuth } from '../../../collector/decode/http.js';
import { capture, eachPacket, tsharkFields } from './frames.js';

function expectedHost(h: string): string {
  let s = h.toLowerCase();
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']'));
  const c = s.indexOf(':');
  if (c >= 0) s = s.slice(0, c);
  return s.replace(/\.$/, '');
}

for (const [rel, min] of [['iot/ndpi-alexa-app.pcapng', 20], ['iot/iotsentinel/HueBridge-Setup-A-1-STA.pcap', 5], ['decode/zeek-http-qinq-0.pcap', 1],
  ['iot/ndpi-xiaomi.pcap', 1], ['decode/lwerdna-simple_http_sll2.pcap', 1], ['decode/zeek-ipv6-http-atomic-frag.pcap', 0],
  ['iot/iotsentinel/D-LinkCam-Setup-A-1-STA.pcap', 3]] as const) {
  t.test(`${rel} matches tshark`, async (tt) => {
    const rows = tsharkFields(capture(rel), ['frame.number', 'http.host'], 'http.request && !icmp', ['-o', 'tcp.analyze_sequence_numbers:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE']);
    const want = new Map(rows.map((r) => [Number(r[0]), r[1] === '' ? null : expectedHost(r[1])]));
    let named = 0, falsePositives = 0;
    eachPacket(capture(rel), (p, n) => {
      if (!(p.hasL4 && p.proto === 6 && p.payloadLength > 0)) return;
      const got = httpHost(p.buf, p.payloadOffset, p.payloadLength);
      if (want.has(n)) { tt.equal(got, want.get(n), `frame ${n}`); if (got) named++; }
      else if (got !== null) falsePositives++;
      tt.equal(httpBasicAuth(p.buf, p.payloadOffset, p.payloadLength), false, `frame ${n} has no Basic auth`);
    });
    tt.equal(falsePositives, 0);
    tt.ok(rows.length >= 1, `${rows.length} requests in tshark`);
    tt.ok(named >= min, `${named} hosts (want >= ${min})`);
  });
}

const head = (s: string, pad = 5) => {
  const b = Buffer.from(s, 'latin1');
  const u = new Uint8Array(pad + b.length + 20).fill(0x41);
  u.set(b, pad);
  return [u, pad, b.length] as const;
};

t.test('synthetic request heads', async (tt) => {
  tt.equal(httpHost(...head('GET / HTTP/1.1\r\nhOsT:   Camera.Local:8080 \r\n\r\n')), 'camera.local');
  tt.equal(httpHost(...head('POST /x HTTP/1.1\r\nUser-Agent: a\r\nHost: [FE80::1]:80\r\n\r\n')), 'fe80::1');
  tt.equal(httpHost(...head('HTTP/1.1 200 OK\r\nHost: x\r\n\r\n')), null, 'a response is not a request');
  tt.equal(httpHost(...head('GET / HTTP/1.1\r\nX: y\r\n\r\nHost: late\r\n')), null, 'a Host after the head is body');
  tt.equal(httpHost(...head('GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n')), null, 'control bytes refused');
  tt.equal(httpHost(...head('GET / HTTP/1.1\nHost: bare-lf\n\n')), 'bare-lf');
  tt.equal(httpBasicAuth(...head('GET / HTTP/1.1\r\nHost: cam\r\nauthorization: BASIC YWRtaW46YWRtaW4=\r\n\r\n')), true);
  tt.equal(httpBasicAuth(...head('GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n')), false);
  tt.equal(httpBasicAuth(...head('GET / HTTP/1.1\r\nAuthorization: Basicx\r\n\r\n')), false);
  tt.equal(httpBasicAuth(...head('HTTP/1.1 401 x\r\nAuthorization: Basic a\r\n\r\n')), false);
  // Basic auth added to a real request taken from a capture.
  let req: string | null = null;
  eachPacket(capture('iot/ndpi-xiaomi.pcap'), (p) => {
    if (!req && p.payloadLength > 0 && httpHost(p.buf, p.payloadOffset, p.payloadLength)) req = p.buf.toString('latin1', p.payloadOffset, p.payloadOffset + p.payloadLength);
  });
  tt.ok(req);
  const withAuth = req!.replace('\r\n', '\r\nAuthorization: Basic dXNlcjpwYXNz\r\n');
  tt.equal(httpBasicAuth(...head(withAuth, 11)), true);
  // The Host header past HTTP_MAX_HEAD is not searched.
  tt.equal(httpHost(...head('GET / HTTP/1.1\r\n' + 'X: ' + 'a'.repeat(9000) + '\r\nHost: far\r\n\r\n')), null);
});
