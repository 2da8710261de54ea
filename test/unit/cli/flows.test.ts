// `segwatch flows` with one thread and with the decode thread prints the same bytes, and a
// damaged file ends the same way: what came before the cut, then exit 1 naming the offset.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segwatch, capture, repoRoot } from '../../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'segwatch-flows-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('--threads 1 and --threads 2 print the same flows', async (t) => {
  for (const file of [join(repoRoot, 'test/fixtures/demo/demo.pcap'), capture('iot/ndpi-alexa-app.pcapng'), capture('decode/zeek-ipv6-http-atomic-frag.pcap')]) {
    for (const format of ['jsonl', 'table']) {
      const one = segwatch(['flows', file, '--format', format, '--threads', '1']);
      const two = segwatch(['flows', file, '--format', format, '--threads', '2']);
      t.equal(one.code, 0, `${file} ${format}: exit 0`);
      t.ok(one.stdout.length > 0, 'prints flows');
      t.equal(two.stdout, one.stdout, `${file} ${format}: same output`);
      t.equal(two.code, one.code);
    }
  }
});

t.test('a truncated capture: the flows before the cut, exit 1, the byte offset', async (t) => {
  const src = readFileSync(join(repoRoot, 'test/fixtures/demo/demo.pcap'));
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, src.subarray(0, src.length - 100));
  const one = segwatch(['flows', cut, '--format', 'jsonl', '--threads', '1']);
  const two = segwatch(['flows', cut, '--format', 'jsonl', '--threads', '2']);
  t.equal(two.code, 1);
  t.match(two.stderr, /byte \d+/);
  t.equal(two.stderr, one.stderr);
  t.equal(two.stdout, one.stdout);
  t.ok(two.stdout.split('\n').length > 10, 'flows before the cut are printed');
});

t.test('--threads takes 1 or 2', async (t) => {
  const r = segwatch(['flows', join(repoRoot, 'test/fixtures/demo/demo.pcap'), '--threads', '3']);
  t.equal(r.code, 2);
  t.match(r.stderr, /threads/);
});
