// How the engine names a device in anomalies: the inventory's unique name, never the
// hostname; a watched end the inventory does not know goes by its MAC; `device:NAME` with an
// entry that matches several devices still means all of them.

import t from 'tap';
import { harness, loadPolicy, MapInventory, POLICY, start, T0 } from './helpers.js';

const PLUGS_POLICY = POLICY
  .replace('devices:\n', 'devices:\n  - { name: plugs, vendor: "TP-LINK*", profile: smart-plug }\n')
  .replace('      - { to: "device:nvr", ports: ["554/tcp"] }\n', '      - { to: "device:nvr", ports: ["554/tcp"] }\n      - { to: "device:plugs", ports: ["9999/tcp"] }\n');

t.test('device:plugs reaches every plug, though each has its own name', async (t) => {
  const policy = loadPolicy(PLUGS_POLICY);
  const inv = new MapInventory();
  inv.add({ mac: 'aa:bb:cc:00:00:01', ips: ['192.168.50.10'], name: 'doorbell', profile: 'camera', segment: 'iot', known: true });
  for (const k of [1, 2]) {
    inv.add({ mac: `14:75:90:c3:00:4${k}`, ips: [`192.168.50.4${k}`], name: `plugs-c3004${k}`, vendor: 'TP-LINK TECHNOLOGIES CO.,LTD.', profile: 'smart-plug', segment: 'iot', known: true });
  }
  const h = harness({ policy, inv });
  h.engine.flowStart(start({ dst: '192.168.50.41', dstMac: '14:75:90:c3:00:41', dport: 9999, time: T0 }));
  h.engine.flowStart(start({ dst: '192.168.50.42', dstMac: '14:75:90:c3:00:42', dport: 9999, time: T0 + 1 }));
  h.engine.flowStart(start({ dst: '192.168.50.77', dstMac: '02:00:00:00:00:77', dport: 9999, time: T0 + 2 }));
  h.engine.flush();
  t.same(h.out.map((a) => [a.kind, a.device, a.peer]), [['policy.violation', 'doorbell', '192.168.50.77']], 'only the flow to a non-plug');
});

t.test('a hostname is never the name', async (t) => {
  const inv = new MapInventory();
  inv.add({ mac: '02:de:ad:be:ef:01', ips: ['192.168.50.77'], hostname: 'raspberrypi', profile: 'quarantine', segment: 'iot' });
  const h = harness({ inv });
  h.engine.flowStart(start({ src: '192.168.50.77', srcMac: '02:de:ad:be:ef:01', dport: 443 }));
  h.engine.flush();
  t.match(h.out[0], { kind: 'policy.violation', device: '02:de:ad:be:ef:01', mac: '02:de:ad:be:ef:01' });
});
