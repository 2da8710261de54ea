// Inventory over the IoT Sentinel first-setup captures: each device's MAC, OUI vendor, DHCP
// hostname and leased address, checked against tshark's reading of the same files. The frames
// go through what production runs: the capture reader into Pipeline.handleFrame, as
// `segwatch devices` does, and the devices are read from pipeline.inventory.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { openCapture } from '../../../collector/sources/pcap-file.js';
import { Pipeline } from '../../../collector/pipeline.js';
import { loadPolicyText } from '../../../collector/policy/load.js';
import type { Anomaly, Device, Sink } from '../../../collector/types.js';
import { capture } from '../../helpers/paths.js';

const dir = capture('iot/iotsentinel/');

/** Every local range watched: an address claimed by a second MAC there is a device.spoof. */
const WATCH_LOCAL = `
version: 1
segments:
  local: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fe80::/10", "fc00::/7"]
watch: [local]
default_profile: quarantine
profiles:
  quarantine:
    allow: [ { service: dhcp } ]
`;

/**
 * Replays a capture through a Pipeline; `devices` lists the device records the sinks were sent,
 * by device id, in order. With `policy`, the anomalies raised are kept too.
 */
async function replay(file: string, policyText?: string) {
  const devices = new Map<string, Device[]>();
  const anomalies: Anomaly[] = [];
  const sink: Sink = {
    name: 'test',
    device: (d) => { const l = devices.get(d.id) ?? []; l.push(d); devices.set(d.id, l); },
    anomaly: (a, event) => { if (event === 'opened') anomalies.push(a); },
    flush: async () => {},
    close: async () => {},
  };
  const loaded = policyText === undefined ? undefined : loadPolicyText(policyText, 'watch-local.yaml');
  if (loaded && !loaded.policy) throw new Error(JSON.stringify(loaded.errors));
  const p = loaded?.policy;
  const pipeline = new Pipeline({ sinks: [sink], policy: p ? () => p : undefined });
  await openCapture(file).run(pipeline.handleFrame);
  await pipeline.finish();
  await pipeline.close();
  if (pipeline.counters.stageErrors !== 0) throw new Error(`${file}: ${pipeline.counters.stageErrors} frames hit a stage error`);
  return { inv: pipeline.inventory, devices, anomalies };
}

function tshark(file: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

const macs = new Map(readFileSync(dir + 'device-macs.txt', 'utf8').split('\n').filter(Boolean)
  .map((l) => l.trim().split(/\s+/) as [string, string]));
const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();

t.test('every capture: the device, its vendor, DHCP hostname and leased address', async (t) => {
  t.ok(files.length >= 25, 'captures present');
  for (const f of files) {
    const mac = macs.get(f.slice(0, f.indexOf('-Setup')))!;
    t.ok(mac, `${f}: MAC listed`);
    const path = dir + f;
    const { inv, devices } = await replay(path);
    const dev = inv.deviceByMac(mac);
    t.ok(dev, `${f}: device ${mac} present`);
    if (!dev) continue;
    t.equal(dev.id, mac);
    t.equal(devices.get(mac)?.[0].mac, mac, `${f}: sent to the sinks`);
    if ((parseInt(mac.slice(0, 2), 16) & 2) === 0) t.not(dev.vendor, '', `${f}: vendor from OUI`);
    // one tshark pass per file: [eth.src, ip.src, ipv6.src, arp sender, yiaddr, requested, NA target, hostname, dhcp type, chaddr]
    const rows = tshark(path, 'ip || ipv6 || arp', ['eth.src', 'ip.src', 'ipv6.src', 'arp.src.proto_ipv4', 'dhcp.ip.your',
      'dhcp.option.requested_ip_address', 'icmpv6.nd.na.target_address', 'dhcp.option.hostname', 'dhcp.option.dhcp', 'dhcp.hw.mac_addr']);
    const names = rows.filter((r) => r[0] === mac && r[7]).map((r) => r[7]);
    if (names.length > 0) t.equal(dev.hostname, names[names.length - 1], `${f}: DHCP hostname`);
    const leased = rows.filter((r) => r[8] === '5' && r[9] === mac).map((r) => r[4]);
    for (const ip of leased) {
      t.ok(dev.ips.includes(ip), `${f}: leased ${ip} bound`);
      t.equal(inv.deviceByIp(ip)?.id, mac, `${f}: ${ip} -> ${mac}`);
    }
    // whatever else was bound to the device, the capture shows it coming from that MAC
    for (const ip of dev.ips) {
      const seen = rows.some((r) => (r[0] === mac && (r[1] === ip || r[2] === ip || r[3] === ip || r[5] === ip || r[6] === ip)) ||
        (r[9] === mac && r[4] === ip));
      t.ok(seen, `${f}: ${ip} seen from ${mac}`);
    }
    const sorted = inv.devices();
    for (let i = 1; i < sorted.length; i++) t.ok(sorted[i - 1].firstSeen <= sorted[i].firstSeen, `${f}: devices() sorted`);
  }
});

t.test('known vendors and hostnames', async (t) => {
  const cases: [string, string, string][] = [
    ['HueBridge-Setup-A-1-STA.pcap', 'Philips Lighting BV', 'Philips-hue'],
    ['iKettle2-Setup-A-1-STA.pcap', 'Espressif Inc.', 'ESP_06D902'],
    ['D-LinkCam-Setup-A-1-STA.pcap', 'D-Link International', 'DCS-935L'],
    ['Aria-Setup-A-1-STA.pcap', '', 'GainSpanca9152'],
  ];
  for (const [f, vendor, host] of cases) {
    const { inv } = await replay(dir + f);
    const dev = inv.deviceByMac(macs.get(f.slice(0, f.indexOf('-Setup')))!)!;
    if (vendor) t.equal(dev.vendor, vendor, f); else t.not(dev.vendor, '', f);
    t.equal(dev.hostname, host, f);
  }
  const { inv } = await replay(dir + 'HueBridge-Setup-A-1-STA.pcap');
  t.equal(inv.deviceByIp('10.10.10.6')?.mac, '00:17:88:24:76:ff');
  t.equal(inv.deviceByIp('192.168.1.1'), undefined, 'a DISCOVER\'s requested address from the old network is not bound');
});

t.test('DNS answers in a capture map server addresses to names for the client', async (t) => {
  const f = dir + 'D-LinkCam-Setup-A-1-STA.pcap';
  const answers = tshark(f, 'udp.srcport == 53 && dns.flags.response == 1 && dns.a', ['ip.dst', 'dns.qry.name', 'dns.a', 'frame.time_epoch', 'dns.count.answers', 'dns.cname']);
  t.ok(answers.length > 0, 'the capture has DNS answers');
  const { inv } = await replay(f);
  for (const [client, qname, addrs, time, nAnswers, cnames] of answers) {
    const ts = Number(time) * 1000;
    // dns.a lists additional-section glue too: keep the answer section's A records only
    const nA = Number(nAnswers) - (cnames ? cnames.split(',').length : 0);
    for (const a of addrs.split(',').slice(0, nA)) {
      t.ok(inv.namesFor(client, a, ts).includes(qname), `${client} ${a} -> ${qname}`);
      t.same(inv.namesFor(client, a, ts + 365 * 86_400_000), [], 'expired a year later');
      t.same(inv.namesFor('10.99.99.99', a, ts), [], 'another client did not resolve it');
    }
  }
});

t.test('no spurious conflicts in the setup captures', async (t) => {
  for (const f of files) {
    const { anomalies } = await replay(dir + f, WATCH_LOCAL);
    // the detectors are listening: the unlisted device is reported
    t.ok(anomalies.some((a) => a.kind === 'device.new'), `${f}: device.new raised`);
    t.same(anomalies.filter((a) => a.kind === 'device.spoof').map((a) => a.message), [], f);
  }
});
