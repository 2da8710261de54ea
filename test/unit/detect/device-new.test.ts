import t from 'tap';
import type { Device } from '../../../collector/types.js';
import { T0, harness } from './helpers.js';

const stranger = (over: Partial<Device> = {}): Device => ({
  id: '02:de:ad:be:ef:01', name: '', mac: '02:de:ad:be:ef:01', ips: ['192.168.50.77'], vendor: 'Acme Cameras',
  hostname: 'ipcam-77', profile: 'quarantine', segment: 'iot', firstSeen: T0, lastSeen: T0 + 5000, known: false, ...over,
});

t.test('positive: an unlisted device appears in the watched segment', async (t) => {
  const h = harness();
  h.engine.device(stranger(), 'new');
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.match(h.out[0], {
    // named by its MAC: the hostname it announced is a field, never the name
    kind: 'device.new', severity: 'medium', device: '02:de:ad:be:ef:01', mac: '02:de:ad:be:ef:01', ip: '192.168.50.77',
    segment: 'iot', profile: 'quarantine', peer: '', count: 1, time: new Date(T0).toISOString(),
  });
  t.match(h.out[0].message, /new device 02:de:ad:be:ef:01 \(192\.168\.50\.77\) \(MAC 02:de:ad:be:ef:01, vendor Acme Cameras\) is not listed/);
});

t.test('positive: a MAC seen before its address is reported when it gets a watched address', async (t) => {
  const h = harness();
  h.engine.device(stranger({ ips: [] }), 'new');
  t.equal(h.first.length, 0);
  h.engine.device(stranger({ ips: ['fd00:50::77'] }), 'updated');
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.equal(h.out[0].ip, 'fd00:50::77');
});

t.test('near miss: a device the policy lists', async (t) => {
  const h = harness();
  h.engine.device(stranger({ known: true, name: 'doorbell2' }), 'new');
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: an unlisted device outside the watched segments', async (t) => {
  const h = harness();
  h.engine.device(stranger({ ips: ['192.168.1.77'], segment: 'lan' }), 'new');
  h.engine.flush();
  t.same(h.out, []);
});

t.test('near miss: seen before (in this run, or in the persisted set)', async (t) => {
  const seen = new Set<string>(['02:de:ad:be:ef:02']);
  const h = harness({ seen });
  h.engine.device(stranger(), 'new');
  h.engine.device(stranger({ lastSeen: T0 + 9000 }), 'updated');
  h.engine.device(stranger({ id: '02:de:ad:be:ef:02', mac: '02:de:ad:be:ef:02' }), 'new');
  h.engine.flush();
  t.equal(h.out.length, 1);
  t.ok(seen.has('02:de:ad:be:ef:01'), 'the caller\'s set learns the new id, for persistence');
});
