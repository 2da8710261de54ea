import { openCapture } from '../collector/sources/pcap-file.js';
const f = process.argv[2];
const s = openCapture(f);
let n = 0;
try {
  await s.run((buf, off, cap, wire, ts, lt) => { n++; if (n <= 8) console.log(lt, wire, cap, (ts/1000).toFixed(9)); });
} catch (e) { console.log('ERR', (e as Error).message); }
console.log('frames', n, s.stats(), s.position(), s.size(), s.format());
