// A capture file read with a FrameStamp: each frame's timestamp is in the stamp when the
// handler runs (and ts is 0), the same number an unstamped read passes, frame by frame, for
// classic pcap (micro- and nanosecond) and pcapng (several interfaces and resolutions, SPBs).
import t from 'tap';
import { readdirSync } from 'node:fs';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { CAPTURES, capture } from '../decode/frames.js';

async function stamps(file: string, stamped: boolean): Promise<{ ts: number[]; args: number[] }> {
  const ts: number[] = [], args: number[] = [];
  const stamp = { ts: -1 };
  const source = openCapture(file);
  await source.run((_b, _o, _c, _w, t0) => {
    args.push(t0);
    ts.push(stamped ? stamp.ts : t0);
  }, stamped ? stamp : undefined).catch(() => { /* a corrupt file: the frames before the fault count */ });
  return { ts, args };
}

t.test('stamped and plain reads give the same timestamps', async (t) => {
  const files = readdirSync(`${CAPTURES}/decode`).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => capture(`decode/${f}`));
  let frames = 0;
  const kinds = new Set<string>();
  for (const f of files) {
    const plain = await stamps(f, false);
    const stamped = await stamps(f, true);
    if (plain.ts.length === 0) continue;
    t.same(stamped.ts, plain.ts, `${f.split('/').pop()}: ${plain.ts.length} frames`);
    t.ok(stamped.args.every((x) => x === 0), 'ts passed as 0 when stamped');
    frames += plain.ts.length;
    kinds.add(f.endsWith('ng') ? 'pcapng' : f.includes('nano') ? 'pcap-nano' : 'pcap');
  }
  t.ok(frames > 1000, `${frames} frames compared`);
  t.same([...kinds].sort(), ['pcap', 'pcap-nano', 'pcapng'], 'every format met');
});
