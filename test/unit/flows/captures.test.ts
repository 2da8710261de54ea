// Flow table over real captures: with timeouts out of the way, one flow per conversation, and
// per-direction packet counts equal to tshark's conversation statistics.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { decodeFrame } from '../../../collector/decode/frame.js';
import { PacketInfo } from '../../../collector/decode/packet.js';
import { FlowTable, flowHashHint } from '../../../collector/flows/flow-table.js';
import type { FlowRecord } from '../../../collector/types.js';

const repoRoot = new URL('../../../', import.meta.url);
const dir = fileURLToPath(new URL('../shared/captures/iot/iotsentinel/', repoRoot));
const NEVER = 1e15;

async function flows(file: string): Promise<FlowRecord[]> {
  const recs: FlowRecord[] = [];
  const ft = new FlowTable({ idleTcpMs: NEVER, idleTcpClosedMs: NEVER, idleUdpMs: NEVER, activeTimeoutMs: NEVER },
    { onStart() {}, onRecord: (r) => recs.push(r) });
  const p = new PacketInfo();
  await openCapture(file).run((buf, off, caplen, wirelen, ts, lt) => { decodeFrame(buf, off, caplen, wirelen, ts, lt, p); ft.add(p); });
  ft.flush();
  return recs;
}

/** tshark -z conv: "a:pa <-> b:pb  framesBtoA bytes framesAtoB bytes ..." keyed without direction. */
function tsharkConv(file: string, proto: 'udp' | 'tcp'): Map<string, number[]> {
  const out = execFileSync('tshark', ['-r', file, '-q', '-z', `conv,${proto}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  const m = new Map<string, number[]>();
  for (const line of out.split('\n')) {
    const x = /^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s/.exec(line);
    if (!x) continue;
    const a = `${x[1]}:${x[2]}`, b = `${x[3]}:${x[4]}`;
    m.set([a, b].sort().join(' '), [Number(x[5]) + Number(x[6])]);
  }
  return m;
}

for (const name of ['D-LinkCam-Setup-A-1-STA.pcap', 'HueBridge-Setup-A-1-STA.pcap', 'Aria-Setup-A-1-STA.pcap']) {
  t.test(`${name}: flows match tshark conversations`, async (t) => {
    const file = dir + name;
    const recs = await flows(file);
    for (const proto of ['udp', 'tcp'] as const) {
      const conv = tsharkConv(file, proto);
      const mine = new Map<string, number[]>();
      for (const r of recs) {
        if (r.proto !== proto) continue;
        const k = [`${r.src}:${r.sport}`, `${r.dst}:${r.dport}`].sort().join(' ');
        const prev = mine.get(k)?.[0] ?? 0;
        mine.set(k, [prev + r.packets + r.packetsRev]);
      }
      t.ok(conv.size > 0, `${proto}: tshark found conversations`);
      t.same(mine, conv, `${proto}: same conversations and packet counts`);
    }
    t.equal(new Set(recs.map((r) => r.id)).size, recs.length, 'one final record per flow');
  });
}

t.test('a flow hash computed elsewhere (flowHashHint) finds the same flows as the table\'s own', async (t) => {
  const { readdirSync } = await import('node:fs');
  const run = async (file: string, hint: (p: PacketInfo) => number): Promise<{ ids: number[]; recs: FlowRecord[] }> => {
    const recs: FlowRecord[] = [], ids: number[] = [];
    const ft = new FlowTable({}, { onRecord: (r) => recs.push(r) });
    const p = new PacketInfo();
    await openCapture(file).run((buf, off, caplen, wirelen, ts, lt) => {
      decodeFrame(buf, off, caplen, wirelen, ts, lt, p);
      p.flowHash = hint(p);
      ids.push(ft.add(p));
    });
    ft.flush();
    return { ids, recs };
  };
  let hinted = 0;
  const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).slice(0, 8);
  for (const f of files) {
    const own = await run(dir + f, () => 0);
    const given = await run(dir + f, (p) => { const h = flowHashHint(p); if (h !== 0) hinted++; return h; });
    t.same(given, own, f);
  }
  t.ok(hinted > 1000, `${hinted} packets counted with a given hash`);
  // a hash that is not the table's own (here: another for each packet) splits flows, so the
  // comparison above can fail
  let n = 0;
  const wrong = await run(dir + files[0], (p) => (flowHashHint(p) === 0 ? 0 : (flowHashHint(p) + n++) | 0));
  t.notSame(wrong.recs, (await run(dir + files[0], () => 0)).recs, 'a wrong hash gives other flows');
});
