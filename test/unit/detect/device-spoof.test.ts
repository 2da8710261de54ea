import t from 'tap';
import { T0, harness } from './helpers.js';

t.test('positive: a second MAC claims a watched device\'s address', async (t) => {
  const h = harness();
  h.inv.add({ mac: '02:66:66:66:66:66', ips: ['192.168.50.66'], hostname: 'evil-pi' });
  h.engine.conflict({ time: T0, ip: '192.168.50.11', oldMac: 'aa:bb:cc:00:00:02', newMac: '02:66:66:66:66:66', source: 'arp' });
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.match(h.out[0], {
    kind: 'device.spoof', severity: 'high', device: '02:66:66:66:66:66', mac: '02:66:66:66:66:66', ip: '192.168.50.11',
    peer: '192.168.50.11', peerName: 'plug', proto: 'arp', segment: 'iot',
  });
  t.match(h.out[0].message, /MAC 02:66:66:66:66:66 claimed 192\.168\.50\.11, held by plug \(aa:bb:cc:00:00:02\), in ARP/);
});

t.test('positive: the resolver/gateway address is critical; so is a configured gateway', async (t) => {
  const h = harness({ settings: { spoofCriticalIps: ['192.168.50.254'] } });
  h.engine.conflict({ time: T0, ip: '192.168.50.1', oldMac: '02:00:00:00:00:01', newMac: '02:66:66:66:66:66', source: 'arp' });
  h.engine.conflict({ time: T0, ip: '192.168.50.254', oldMac: '02:00:00:00:00:fe', newMac: '02:66:66:66:66:66', source: 'dhcp' });
  h.engine.flush();
  t.same(h.out.map((a) => [a.ip, a.severity, a.device]), [
    ['192.168.50.1', 'critical', '02:66:66:66:66:66'], ['192.168.50.254', 'critical', '02:66:66:66:66:66'],
  ]);
});

t.test('near miss: an address outside the watched segments', async (t) => {
  const h = harness();
  h.engine.conflict({ time: T0, ip: '192.168.1.5', oldMac: '02:00:00:00:01:05', newMac: '02:00:00:00:01:06', source: 'traffic' });
  h.engine.conflict({ time: T0, ip: '8.8.8.8', oldMac: '02:00:00:00:00:fe', newMac: '02:00:00:00:00:fd', source: 'traffic' });
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: the same conflict flapping is one anomaly with a count', async (t) => {
  const h = harness();
  for (let i = 0; i < 20; i++) {
    h.engine.conflict({ time: T0 + i * 1000, ip: '192.168.50.11', oldMac: 'aa:bb:cc:00:00:02', newMac: '02:66:66:66:66:66', source: 'arp' });
  }
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].count, 20);
  t.equal(h.out[0].severity, 'high');
});
