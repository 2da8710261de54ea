// The example site policy and every device-class profile snippet load without errors,
// and the snippets are the same profiles the example inlines.
import t from 'tap';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadPolicyFile, loadPolicyText, formatPolicyError } from '../../../collector/policy/load.js';
import { siteAround } from '../../helpers/profile-site.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const CLASSES = ['camera', 'smart-plug', 'tv-streamer', 'voice-assistant', 'hub-bridge', 'printer'];


t.test('site.example.yaml loads with zero errors', async (t) => {
  const r = await loadPolicyFile(`${root}policies/site.example.yaml`);
  t.same(r.errors.map(formatPolicyError), []);
  t.ok(r.policy);
  for (const c of CLASSES) t.ok(r.policy!.profiles().includes(c), `has ${c}`);
  const p = r.policy!;
  t.equal(p.place({ mac: 'AA:BB:CC:00:00:01', ip: '', vendor: '', hostname: '' }).name, 'front-door');
  t.equal(p.place({ mac: '00:11:22:33:44:55', ip: '192.168.50.20', vendor: '', hostname: 'Chromecast-Ultra' }).profile, 'tv-streamer');
  t.equal(p.segmentOf('192.168.50.66'), 'cameras');
  t.ok(p.evaluate('tv-streamer', { proto: 'tcp', dst: '142.250.74.78', dport: 443 }, ['www.youtube.com'], () => []).allowed);
  t.ok(p.evaluate('voice-assistant', { proto: 'tcp', dst: '54.239.1.1', dport: 443 }, ['device-metrics-us.amazon.com'], () => []).allowed);
  t.notOk(p.evaluate('smart-plug', { proto: 'tcp', dst: '192.168.1.10', dport: 23 }, [], () => []).allowed);
});

t.test('every profile snippet loads and matches the example', async (t) => {
  const files = (await readdir(`${root}policies/profiles`)).filter((f) => f.endsWith('.yaml')).sort();
  t.same(files, CLASSES.map((c) => `${c}.yaml`).sort());
  const site = parse(await readFile(`${root}policies/site.example.yaml`, 'utf8'));
  for (const f of files) {
    const name = f.replace(/\.yaml$/, '');
    const text = await readFile(`${root}policies/profiles/${f}`, 'utf8');
    const r = loadPolicyText(siteAround(text, name), `policies/profiles/${f}`);
    t.same(r.errors.map(formatPolicyError), [], f);
    t.same(r.policy?.profiles(), [name], `${f} defines exactly profile ${name}`);
    t.same(site.profiles[name], parse(text)[name], `site.example.yaml inlines ${f} unchanged`);
  }
});
