// Every NetFlow/IPFIX capture in ../shared/captures/netflow decodes without a fault, and the
// values agree with tshark's cflow dissector field by field: addresses, ports, protocol, raw
// packet and byte counters (before sampling) and start/end times.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FlowExportDecoder } from '../../../collector/decode/flow-export.js';
import type { ExportRecord } from '../../../collector/decode/flow-export-record.js';
import { captureGroups, readDatagrams, type Datagram } from './flow-export-captures.js';

const TSHARK = '/usr/bin/tshark';
const FIELDS = [
  'cflow.version', 'cflow.srcaddr', 'cflow.dstaddr', 'cflow.srcaddrv6', 'cflow.dstaddrv6', 'cflow.srcport', 'cflow.dstport',
  'cflow.protocol', 'cflow.octets', 'cflow.packets', 'cflow.sysuptime', 'cflow.unix_secs', 'cflow.unix_nsecs',
  'cflow.timestart', 'cflow.timeend', 'cflow.abstimestart', 'cflow.abstimeend', 'cflow.exporttime', 'cflow.sys_init_time',
] as const;
type Field = (typeof FIELDS)[number];
const PORT_CHANGE = 'pmacct-112-';
const TUNNEL = 'pmacct-106-';

/** "Oct  5, 2009 06:06:07.492059999 UTC" -> ms since epoch, fraction kept. */
function absMs(s: string): number {
  const m = /^(.*\d\d:\d\d:\d\d)(\.\d+)? UTC$/.exec(s.trim());
  if (!m) throw new Error(`tshark time ${s}`);
  return Date.parse(`${m[1]} UTC`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

function tsharkFrames(files: string[], ports: number[]): Array<Record<Field, string[]>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'segwatch-cflow-'));
  try {
    let file = files[0];
    if (files.length > 1) {
      file = path.join(dir, 'merged.pcap');
      execFileSync('mergecap', ['-a', '-F', 'pcap', '-w', file, ...files], { stdio: 'ignore' });
    }
    const args = ['-r', file, ...ports.flatMap((p) => ['-d', `udp.port==${p},cflow`]), '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=\t'];
    for (const f of FIELDS) args.push('-e', f);
    const out = execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    return out.split('\n').filter((l) => l !== '').map((line) => {
      const cols = line.split('\t');
      const rec = {} as Record<Field, string[]>;
      FIELDS.forEach((f, i) => { rec[f] = cols[i] ? cols[i].split('|') : []; });
      return rec;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Decoded { dg: Datagram; recs: ExportRecord[] }

async function decodeGroup(files: string[], d: FlowExportDecoder): Promise<Decoded[]> {
  const out: Decoded[] = [];
  for (const f of files) {
    for (const dg of await readDatagrams(f)) {
      const recs: ExportRecord[] = [];
      // A Uint8Array view at an offset, as a receiver's pooled buffer would hand it.
      const pad = new Uint8Array(dg.payload.length + 7);
      pad.set(dg.payload, 3);
      d.decode(pad, 3, dg.payload.length, dg.exporter, dg.ts, (r) => recs.push({ ...r }));
      out.push({ dg, recs });
    }
  }
  return out;
}

/**
 * tshark's values of one field in a datagram against ours, in record order. tshark lists a
 * field once per occurrence: a record without the element adds nothing, a biflow record with
 * the reverse element adds two (forward, then reverse).
 */
function compareList(tt: Test, what: string, theirs: number[], ours: number[], oursRev: number[] | null, eps = 0): void {
  let expect = ours;
  if (theirs.length === 2 * ours.length && oursRev) expect = ours.flatMap((v, i) => [v, oursRev[i]]);
  if (theirs.length !== expect.length) { tt.fail(`${what}: tshark has ${theirs.length} values, we have ${expect.length}`); return; }
  const bad = theirs.findIndex((v, i) => Math.abs(v - expect[i]) > eps);
  tt.equal(bad, -1, `${what} agree (${theirs.length})${bad >= 0 ? `: tshark ${theirs[bad]} we ${expect[bad]}` : ''}`);
}

for (const files of captureGroups()) {
  const name = files.map((f) => path.basename(f)).join(' + ');
  t.test(name, async (tt) => {
    const d = new FlowExportDecoder();
    const decoded = await decodeGroup(files, d);
    const st = d.stats();
    tt.equal(st.malformed, 0, `no faults ${JSON.stringify(st.malformedByReason)}`);
    tt.equal(st.datagrams, decoded.length);
    if (!existsSync(TSHARK)) { tt.pass('tshark not installed: values not cross-checked'); return; }
    const ports = [...new Set(decoded.map((x) => x.dg.dport))];
    const frames = tsharkFrames(files, ports);
    tt.equal(frames.length, decoded.length, 'tshark saw every datagram');
    for (let i = 0; i < decoded.length; i++) {
      const { recs, dg } = decoded[i];
      const f = frames[i];
      if (recs.length === 0) continue;
      if (name.startsWith(PORT_CHANGE) && dg.sport !== decoded[0].dg.sport) {
        // The exporter's source port changed mid-capture (pmacct's "options map reassignment"
        // test). tshark keys templates by address AND port, so it has no template for these
        // sets; segwatch scopes them by (exporter, observation domain) as RFC 7011 says.
        tt.same(f['cflow.srcaddr'], [], `${'datagram'} ${i + 1}: tshark lost the templates with the port`);
        continue;
      }
      const num = (k: Field) => f[k].map(Number);
      const where = `datagram ${i + 1}`;
      // A template for both families lists the other family's addresses as zeros, which
      // tshark prints and we drop (the record keeps its real family): compare the non-zero ones.
      const nz = (a: string[]) => a.filter((x) => x !== '0.0.0.0' && x !== '::');
      if (name.startsWith(TUNNEL)) {
        // Huawei's template repeats the key elements for the tunnel's inner header (IPv4 in the
        // outer IPv6): tshark lists both, the record is the first (outer, as routed).
        for (const k of ['cflow.srcaddr', 'cflow.dstaddr'] as const) if (f[k].length === recs.length && recs.every((r) => r.ipVersion === 6)) f[k] = [];
        for (const k of ['cflow.srcport', 'cflow.dstport', 'cflow.protocol'] as const) {
          if (f[k].length === 2 * recs.length) f[k] = f[k].filter((_, j) => j % 2 === 0);
        }
      }
      const v4 = recs.filter((r) => r.ipVersion === 4), v6 = recs.filter((r) => r.ipVersion === 6);
      tt.same(nz(f['cflow.srcaddr']), nz(v4.map((r) => r.src)), `${where} IPv4 sources`);
      tt.same(nz(f['cflow.dstaddr']), nz(v4.map((r) => r.dst)), `${where} IPv4 destinations`);
      tt.same(nz(f['cflow.srcaddrv6']), nz(v6.map((r) => r.src)), `${where} IPv6 sources`);
      tt.same(nz(f['cflow.dstaddrv6']), nz(v6.map((r) => r.dst)), `${where} IPv6 destinations`);
      const withL4 = recs.filter((r) => r.ipVersion !== 0);
      if (f['cflow.srcport'].length > 0) compareList(tt, `${where} source ports`, num('cflow.srcport'), withL4.map((r) => r.sport), null);
      if (f['cflow.dstport'].length > 0) compareList(tt, `${where} destination ports`, num('cflow.dstport'), withL4.map((r) => r.dport), null);
      if (f['cflow.protocol'].length > 0) compareList(tt, `${where} protocols`, num('cflow.protocol'), withL4.map((r) => r.proto), null);
      if (f['cflow.octets'].length > 0) compareList(tt, `${where} bytes`, num('cflow.octets'), recs.map((r) => r.bytes), recs.map((r) => r.bytesRev));
      if (f['cflow.packets'].length > 0) compareList(tt, `${where} packets`, num('cflow.packets'), recs.map((r) => r.packets), recs.map((r) => r.packetsRev));
      // Times: tshark prints sysUptime-relative ones as seconds since boot, absolute ones as dates.
      const version = Number(f['cflow.version'][0]);
      if (f['cflow.abstimestart'].length > 0) {
        compareList(tt, `${where} absolute starts`, f['cflow.abstimestart'].map(absMs), recs.map((r) => r.start), null, 1);
        compareList(tt, `${where} absolute ends`, f['cflow.abstimeend'].map(absMs), recs.map((r) => r.end), null, 1);
      } else if (f['cflow.timestart'].length > 0 && (version === 5 || version === 9)) {
        const exportMs = Number(f['cflow.unix_secs'][0]) * 1000 + (version === 5 ? Math.floor(Number(f['cflow.unix_nsecs'][0]) / 1e6) : 0);
        const up = Number(f['cflow.sysuptime'][0]) * 1000;
        const rel = (k: Field) => f[k].map((s) => exportMs - Math.round(up - Number(s) * 1000));
        compareList(tt, `${where} uptime starts`, rel('cflow.timestart'), recs.map((r) => r.start), null, 1);
        compareList(tt, `${where} uptime ends`, rel('cflow.timeend'), recs.map((r) => r.end), null, 1);
      } else if (f['cflow.timestart'].length > 0 && f['cflow.sys_init_time'].length > 0) {
        // IPFIX sysUpTime elements count from systemInitTimeMilliseconds (Huawei sends it in the record).
        const init = f['cflow.sys_init_time'].map(absMs);
        const rel = (k: Field) => f[k].map((s, j) => init[j] + Math.round(Number(s) * 1000));
        compareList(tt, `${where} init-relative starts`, rel('cflow.timestart'), recs.map((r) => r.start), null, 1);
        compareList(tt, `${where} init-relative ends`, rel('cflow.timeend'), recs.map((r) => r.end), null, 1);
      }
      // Cisco's IPFIX (pmacct-104, -111-01) sends flowStartSysUpTime without systemInitTimeMilliseconds
      // in records or options data: neither tshark nor we can place those times; we use the export
      // time (FlowExportDecoder's documented fallback), tshark prints seconds since boot.
    }
  });
}

// Sampling rates the captures' options data (or records) give, which tshark does not apply:
// pmacct-104 maps selector 1 to random 1-out-of-256 (samplingSize 1, samplingPopulation 256).
const SAMPLING: Record<string, number[]> = {
  'pmacct-104-IPFIXv10-IPv6-CISCO-sampling_option.pcap': [256],
  'akvorado-samplingrate-template.pcap + akvorado-samplingrate-data.pcap': [2048],
  'akvorado-data+templates.pcap': [100],
  'akvorado-nfv5.pcap': [1],
};
for (const files of captureGroups()) {
  const name = files.map((f) => path.basename(f)).join(' + ');
  if (!SAMPLING[name]) continue;
  t.test(`${name}: sampling interval`, async (tt) => {
    const decoded = await decodeGroup(files, new FlowExportDecoder());
    tt.same([...new Set(decoded.flatMap((x) => x.recs.map((r) => r.samplingInterval)))], SAMPLING[name]);
  });
}
