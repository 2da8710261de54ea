// Hot reload for real: a temp policy file is changed, broken, replaced; the last good
// policy stays in force while a broken one is refused. Every wait is bounded.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { PolicyWatcher } from '../../../collector/policy/watch.js';
import type { CompiledPolicy, PolicyError } from '../../../collector/policy/types.js';

const policy = (profiles: string[]) => `version: 1
segments: { iot: ["192.168.50.0/24"] }
watch: [iot]
default_profile: ${profiles[0]}
profiles:
${profiles.map((p) => `  ${p}: { allow: [ { ports: ["443/tcp"] } ] }`).join('\n')}
`;

/** the next event of `name`, or a rejection after `ms`. */
function next<T>(w: PolicyWatcher, name: string, ms = 5000): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  return once(w, name, { signal: ac.signal }).then((v) => v[0] as T).finally(() => clearTimeout(timer));
}

/** A temp dir with site.yaml of `text`, removed after the test. */
async function siteFile(t: Test, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'segwatch-policy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.yaml');
  await writeFile(file, text);
  return file;
}

/** A started watcher of a fresh site.yaml holding profile a, closed after the test. */
async function watching(t: Test, debounceMs: number): Promise<{ w: PolicyWatcher; file: string }> {
  const file = await siteFile(t, policy(['a']));
  const w = new PolicyWatcher(file, { debounceMs });
  t.teardown(() => w.close());
  t.same(await w.start(), []);
  return { w, file };
}

t.test('reloads on change, refuses a broken file, keeps the last good policy', async (t) => {
  const { w, file } = await watching(t, 50);
  const dir = dirname(file);
  t.same(w.current().profiles(), ['a']);

  // Changes are written synchronously: an async write truncates and writes in two steps, and a
  // loaded machine can stall between them past the debounce, so the reload would read an empty
  // file (refused, as it should be) instead of the change this test is about.
  // a good change comes in through fs.watch
  let p = next<CompiledPolicy>(w, 'policy');
  writeFileSync(file, policy(['a', 'b']));
  t.same((await p).profiles(), ['a', 'b']);
  t.same(w.current().profiles(), ['a', 'b']);

  // a broken change is refused with its errors; the last good stays
  const e = next<PolicyError[]>(w, 'errors');
  writeFileSync(file, policy(['a', 'b']).replaceAll('443/tcp', '443/tpc'));
  const errs = await e;
  t.equal(errs.length, 2, 'both profiles\' bad port');
  t.equal(errs[0].line, 6);
  t.equal(errs[0].file, file);
  t.same(w.current().profiles(), ['a', 'b'], 'last good policy still in force');

  // editors replace the file by rename: still seen
  p = next<CompiledPolicy>(w, 'policy');
  await writeFile(join(dir, 'site.yaml.tmp'), policy(['c']));
  await rename(join(dir, 'site.yaml.tmp'), file);
  t.same((await p).profiles(), ['c']);

});

t.test('a burst of writes gives one reload of the final content (debounce)', async (t) => {
  // writes 30 ms apart, well inside the debounce: a stall of the test's event loop delays the
  // debounce timer as much as the next write, so only a stall past a whole second could split it
  const { w, file } = await watching(t, 1000);
  let count = 0;
  w.on('policy', () => { count++; });
  const p = next<CompiledPolicy>(w, 'policy');
  for (let i = 0; i < 5; i++) {
    writeFileSync(file, policy(['d' + i]));
    await new Promise((r) => setTimeout(r, 30));
  }
  t.same((await p).profiles(), ['d4'], 'the first reload after the burst reads its last write');
  await new Promise((r) => setTimeout(r, 300));
  t.ok(count <= 2, `burst coalesced (${count} reloads)`);
  t.same(w.current().profiles(), ['d4']);
});

t.test('reload() (the SIGHUP path) and a bad first load', async (t) => {
  const file = await siteFile(t, 'version: 1\nsegments: {}\n');
  const w = new PolicyWatcher(file, { debounceMs: 10_000 }); // long debounce: only reload() reloads here
  t.teardown(() => w.close());
  const first = await w.start();
  t.ok(first.length > 0, 'first load errors are returned');
  t.equal(w.currentOrNull(), null);
  t.throws(() => w.current(), /no valid policy/);
  await writeFile(file, policy(['x']));
  t.equal(await w.reload(), true);
  t.same(w.current().profiles(), ['x']);
  await writeFile(file, 'version: [');
  t.equal(await w.reload(), false);
  t.same(w.current().profiles(), ['x']);
});

t.test('SIGHUP reloads', async (t) => {
  const file = await siteFile(t, policy(['s1']));
  const w = new PolicyWatcher(file, { debounceMs: 10_000 });
  t.teardown(() => w.close());
  await w.start();
  const before = process.listenerCount('SIGHUP');
  w.listenSighup();
  t.equal(process.listenerCount('SIGHUP'), before + 1);
  await writeFile(file, policy(['s2']));
  const p = next<CompiledPolicy>(w, 'policy');
  process.kill(process.pid, 'SIGHUP');
  t.same((await p).profiles(), ['s2']);
  w.close();
  t.equal(process.listenerCount('SIGHUP'), before, 'close() removes the handler');
});
