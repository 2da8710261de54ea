// Every real capture in ../shared/captures read by openCapture: frame counts against
// MANIFEST.tsv and tshark, and every frame's lengths and timestamp against tshark.

import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openCapture } from '../../../collector/sources/pcap-file.js';

const root = new URL('../../../', import.meta.url);
const captures = fileURLToPath(new URL('../shared/captures/', root));

interface Row { file: string; format: string; linktype: string; packets: number }
const manifest: Row[] = readFileSync(captures + 'MANIFEST.tsv', 'utf8').trim().split('\n').slice(1)
  .map((l) => l.split('\t'))
  .filter((c) => c[2].includes('pcap'))
  .map((c) => ({ file: c[0], format: c[2], linktype: c[3], packets: Number(c[5]) }));

const LINKTYPES: Record<string, number> = {
  Ethernet: 1, 'Linux cooked-mode capture v1': 113, 'Linux cooked-mode capture v2': 276,
  'Raw IPv4': 228, 'Raw IP': 101, NFLOG: 239,
};

interface Frame { wire: number; cap: number; ts: string }

function tshark(file: string): Promise<{ frames: Frame[]; nonPacket: number }> {
  return new Promise((resolve, reject) => {
    execFile('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len',
      '-e', 'frame.time_epoch', '-e', 'frame.encap_type'],
    { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      const frames: Frame[] = [];
      let nonPacket = 0;
      for (const line of stdout.split('\n')) {
        if (!line) continue;
        const [wire, cap, ts, encap] = line.split('\t');
        // Wireshark lists pcapng custom blocks as records without an encapsulation: not frames.
        if (!encap) { nonPacket++; continue; }
        frames.push({ wire: Number(wire), cap: Number(cap), ts });
      }
      resolve({ frames, nonPacket });
    });
  });
}

/**
 * ms since epoch from tshark's "sec.fraction", with the same arithmetic as the reader. A
 * nanosecond field of 10^9 or more (tcpdump's timestamp_invalid_nano.pcap) makes tshark print
 * the raw field after the point, and a minus sign once it passes 2^31: read those as raw ns.
 */
function epochMs(s: string): number {
  const [sec, frac = ''] = s.replace(/^-/, '').split('.');
  const div = frac.length > 9 ? 1e6 : 10 ** (frac.length - 3);
  return Number(sec) * 1000 + (frac ? Number(frac) / div : 0);
}

interface Got { wire: number; cap: number; ts: number; lt: number }

async function read(file: string): Promise<{ got: Got[]; err?: unknown; format?: string }> {
  const src = openCapture(file);
  const got: Got[] = [];
  try {
    await src.run((buf, off, cap, wire, ts, lt) => {
      if (off < 0 || off + cap > buf.length) throw new Error('frame outside buffer');
      got.push({ wire, cap, ts, lt });
    });
    return { got, format: src.format() };
  } catch (err) {
    return { got, err };
  }
}

t.test('manifest lists the captures', async (t) => {
  t.ok(manifest.length >= 150, `${manifest.length} captures`);
});

// capinfos counts every file in one quick run; tshark (about 1 s a file to start) gives the
// per-frame reference for a selection that covers each format feature.
const capinfos = new Map<string, number>();
const TSHARK_FILES = new Set([
  'decode/tcpdump-tcp-handshake-nano.pcap', // nanosecond pcap
  'decode/tcpdump-timestamp_invalid_nano.pcap', // nanosecond field >= 10^9
  'netflow/scapy-netflowv9.pcap', // nanosecond pcap
  'decode/ndpi-nano.pcapng', // if_tsresol 9
  'decode/zeek-pcapng-multi-interface.pcapng', // two interfaces, mixed resolutions
  'iot/ndpi-knxip.pcapng', // two interfaces, mixed resolutions
  'decode/pcapngtg-be-test006.pcapng', // big-endian pcapng, two link types
  'decode/pcapngtg-le-test006.pcapng',
  'decode/pcapngtg-le-test102.pcapng', // several sections, custom blocks
  'decode/pcapngtg-le-test202.pcapng', // several sections, SPB, NRB, ISB, custom blocks
  'decode/pcapngtg-le-test201.pcapng',
  'iot/ndpi-rtsp.pcap', // pcapng named .pcap
  'iot/ndpi-alexa-app.pcapng', // 3,103 frames
  'decode/zeek-linux_dlt_sll2.pcap',
  'iot/iotsentinel/HueSwitch-Setup-A-1-STA.pcap', // 2,397 frames
]);

t.before(async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile('capinfos', ['-c', '-T', '-r', ...manifest.map((r) => captures + r.file)],
      { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  for (const line of out.trim().split('\n')) {
    const [f, n] = line.split('\t');
    capinfos.set(f.slice(captures.length), Number(n));
  }
});

let tsCompared = 0;
let nanoStamps = 0;
let tsharkFiles = 0;
for (const row of manifest) {
  t.test(row.file, async (t) => {
    const { got, err, format } = await read(captures + row.file);
    t.error(err, 'reads without error');
    t.equal(format, row.format === 'pcapng' ? 'pcapng' : 'pcap', 'format from the magic number');
    t.equal(got.length, row.packets, 'frame count equals MANIFEST');
    t.equal(got.length, capinfos.get(row.file), 'frame count equals capinfos');
    const lt = LINKTYPES[row.linktype];
    if (lt !== undefined) t.ok(got.every((g) => g.lt === lt), `link type ${lt}`);
    if (!TSHARK_FILES.has(row.file)) return;
    tsharkFiles++;
    const ref = await tshark(captures + row.file);
    t.equal(got.length, ref.frames.length, 'frame count equals tshark');
    let bad = 0;
    for (let i = 0; i < Math.min(got.length, ref.frames.length); i++) {
      const g = got[i];
      const r = ref.frames[i];
      if (g.wire !== r.wire || g.cap !== r.cap) {
        if (bad++ < 3) t.fail(`frame ${i + 1}: lengths ${g.wire}/${g.cap}, tshark ${r.wire}/${r.cap}`);
        continue;
      }
      if (r.ts === '') continue; // simple packet block: no timestamp of its own
      tsCompared++;
      if (r.ts.split('.')[1]?.replace(/000$/, '').length === 9) nanoStamps++;
      const want = epochMs(r.ts);
      if (Math.abs(g.ts - want) > 1e-6) {
        if (bad++ < 3) t.fail(`frame ${i + 1}: ts ${g.ts}, tshark ${r.ts} (${want})`);
      }
    }
    t.equal(bad, 0, 'every frame matches tshark (lengths, timestamp)');
  });
}

t.test('timestamps were compared, nanosecond ones included', async (t) => {
  t.equal(tsharkFiles, TSHARK_FILES.size, 'every selected file was compared');
  t.ok(tsCompared > 5000, `${tsCompared} timestamps compared`);
  t.ok(nanoStamps > 0, `${nanoStamps} nanosecond timestamps`);
});
