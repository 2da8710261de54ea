// The engine tells group addresses (IPv4 multicast 224/4 up to 239.255.255.255, broadcast
// 255.255.255.255, IPv6 ff00::/8) from hosts by the address key, not its text: a device
// announcing itself to many groups is neither scanning nor violating a host rule.
import t from 'tap';
import { T0, harness, start } from './helpers.js';

t.test('SYN-like datagrams to 40 multicast groups and the broadcast address: no scan.hosts', async (t) => {
  const h = harness();
  for (let i = 0; i < 40; i++) {
    h.engine.flowStart(start({ proto: 'udp', dst: `239.255.${i}.250`, dport: 1900, sport: 40000 + i, time: T0 + i * 10, tcpFlags: 0 }));
    h.engine.flowStart(start({ proto: 'tcp', dst: `224.0.${i}.1`, dport: 23, sport: 41000 + i, time: T0 + i * 10 + 1 }));
  }
  h.engine.flowStart(start({ proto: 'tcp', dst: '255.255.255.255', dport: 23, sport: 42000, time: T0 + 500 }));
  h.engine.flush();
  t.same(h.out.filter((a) => a.kind === 'scan.hosts'), [], 'groups are not hosts a scan counts');
});

for (const first of [223, 240]) {
  t.test(`the same to 40 unicast hosts in ${first}/8, just outside 224/4: a scan`, async (t) => {
    const h = harness();
    for (let i = 0; i < 40; i++) h.engine.flowStart(start({ proto: 'tcp', dst: `${first}.0.${i}.1`, dport: 23, sport: 41000 + i, time: T0 + i * 10 + 1 }));
    h.engine.flush();
    t.equal(h.out.filter((a) => a.kind === 'scan.hosts').length, 1);
  });
}
