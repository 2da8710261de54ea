// The caps' counters on /metrics: real structures filled past small caps (the flow table, the
// inventory with its DNS names, and the detection engine's scan state and anomaly store), read
// by capEvictions() as `segwatch run` does, scraped through the API's /metrics route.
// (The pair cap of scan.ports is 16 per tracked source; its 1,000 case is in detect/caps.test.ts.)
import t from 'tap';
import { buildApp } from '../../../collector/api/app.js';
import { capEvictions } from '../../../collector/api/metrics.js';
import type { CollectorFacade } from '../../../collector/api/facade.js';
import { FlowTable } from '../../../collector/flows/flow-table.js';
import { Inventory } from '../../../collector/inventory/inventory.js';
import { PacketInfo, L3, TCP_SYN } from '../../../collector/decode/packet.js';
import { DNS_A } from '../../../collector/decode/dns.js';
import type { DnsMessage } from '../../../collector/decode/dns.js';
import { harness, start, T0 } from '../detect/helpers.js';
import { PAIRS_PER_SOURCE } from '../../../collector/detect/scan-ports.js';

const TOKEN = 'test-token-0123456789abcdef';
const N = 10_000, CAP = 1000;

t.test('each cap of 1,000 fed 10,000 entries reads 9,000 on /metrics', async (t) => {
  const flows = new FlowTable({ maxFlows: CAP }, { onRecord() {} });
  const p = new PacketInfo();
  p.l3 = L3.IPv4; p.proto = 6; p.hasL4 = true; p.srcMac = 0x025000000001; p.dstMac = 0x245a4c500001; p.tcpFlags = TCP_SYN; p.ipLen = 44;
  for (let i = 0; i < N; i++) {
    p.src4 = 0x0a320001; p.dst4 = (0x14000000 + i) >>> 0; p.sport = 40000; p.dport = 443; p.ts = T0 + i;
    flows.add(p);
  }
  const inventory = new Inventory({ maxDevices: CAP, dnsMaxEntries: CAP });
  for (let i = 0; i < N; i++) {
    const mac = `02:50:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    inventory.observeBinding(`10.50.${(i >> 8) & 255}.${i & 255}`, mac, T0 + i, 'arp');
    const name = `h${i}.example.com`, addr = `20.0.${(i >> 8) & 255}.${i & 255}`;
    const msg = { id: 1, qr: true, opcode: 0, rcode: 0, aa: false, tc: false, incomplete: false, questions: [], authority: [], additional: [],
      answers: [{ name, type: DNS_A, class: 1, ttl: 300, data: addr }] } as unknown as DnsMessage;
    inventory.observeDns('10.50.0.9', msg, T0 + i);
  }
  // the engine: 10,000 watched sources open a flow each (scan.hosts sources, scan.ports pairs),
  // each from a device of the quarantine profile, so each is an anomaly of its own
  const h = harness({ settings: { scanMaxSources: CAP, anomalyMaxOpen: CAP } });
  for (let i = 0; i < N; i++) {
    h.engine.flowStart(start({ src: `fd00:50::${(i + 0x1000).toString(16)}`, srcMac: '', dst: '203.0.113.5', time: T0 + i }));
  }
  const stages = { flows, inventory, detect: h.engine };
  const facade: CollectorFacade = {
    devices: () => [], recentAnomalies: () => [],
    counters: () => ({ packets: N, bytes: 0, decodeErrors: 0, flows: N, flowsActive: flows.stats().active, anomalies: 0, anomaliesByKind: {},
      drops: 0, spoolBytes: 0, startedAt: 0, source: 'test', policy: 'p', evictions: capEvictions(stages) }),
  };
  const app = buildApp(facade, { token: TOKEN });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.statusCode, 200);
  for (const name of ['flows_evicted', 'devices_evicted', 'dns_names_evicted', 'scan_sources_evicted', 'anomalies_closed_at_cap']) {
    t.match(res.body, new RegExp(`^segwatch_${name}_total ${N - CAP}$`, 'm'), `segwatch_${name}_total is ${N - CAP}`);
  }
  // scan.ports' pair cap is PAIRS_PER_SOURCE per source (its own 1,000 test: detect/caps.test.ts)
  const pairs = CAP * PAIRS_PER_SOURCE;
  t.match(res.body, new RegExp(`^segwatch_scan_pairs_evicted_total ${Math.max(0, N - pairs)}$`, 'm'), 'the scan.ports pairs are read too');
  t.equal(flows.stats().active, CAP);
  t.equal(inventory.capStats().devices, CAP);
  t.equal(inventory.capStats().dnsNames, CAP);
  t.equal(h.engine.lifecycle.size, CAP);
});
