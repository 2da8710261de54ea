// ChunkReader against the file it reads: every need() window, across read-ahead swaps, the
// slow path (tails longer than the reserve, records longer than the chunk) and end of file,
// with reads in libuv's pool and on the calling thread (syncReads, the decode thread's mode).

import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkReader } from '../../../collector/sources/chunk-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'segwatch-chunk-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A file whose every byte differs from its neighbours', so a misplaced window shows. */
function makeFile(name: string, size: number, seed: number): { path: string; data: Buffer } {
  const data = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    data[i] = x & 0xff;
  }
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, data };
}

/**
 * Walks the file like a parser: need(pos, n) for record sizes drawn by step(), checking each
 * window against the file, and the tail left at end of file. Returns the number of windows.
 */
async function walk(t: Test, path: string, data: Buffer, chunk: number, step: (i: number) => number): Promise<number> {
  const sizes: number[] = [];
  const asyncWindows = await walkWith(t, path, data, chunk, (i) => { const n = step(i); sizes.push(n); return n; }, false);
  // the same record sizes again (step may draw from a generator)
  const syncWindows = await walkWith(t, path, data, chunk, (i) => sizes[i], true);
  t.equal(syncWindows, asyncWindows, 'synchronous reads give the same windows');
  return asyncWindows;
}

async function walkWith(t: Test, path: string, data: Buffer, chunk: number, step: (i: number) => number, syncReads: boolean): Promise<number> {
  const r = new ChunkReader(path, chunk, syncReads);
  await r.open();
  let bad = 0;
  let windows = 0;
  try {
    let pos = 0;
    let off = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const n = step(i);
      const p = await r.need(pos, n);
      if (p < 0) {
        t.ok(off + n > data.length, `-1 only when the file ends before ${n} bytes at ${off}`);
        t.equal(r.offsetOf(r.pos), off, 'tail position kept at end of file');
        t.equal(r.available(r.pos), data.length - off, 'tail length at end of file');
        t.same(r.buf.subarray(r.pos, r.end), data.subarray(off), 'tail bytes at end of file');
        return windows;
      }
      windows++;
      if (r.offsetOf(p) !== off || r.end - p < n || data.compare(r.buf, p, p + n, off, off + n) !== 0) {
        if (bad++ < 3) t.fail(`window ${i}: ${n} bytes at file offset ${off} (got offset ${r.offsetOf(p)})`);
      }
      pos = p + n;
      off += n;
    }
    t.fail('walk did not reach end of file');
  } finally {
    await r.close();
    t.equal(bad, 0, 'every window matches the file');
  }
  return windows;
}

t.test('small records: read-ahead swaps keep every window exact', async (t) => {
  const { path, data } = makeFile('small.bin', 300_000 + 7, 1);
  const sizes = [16, 60, 1514, 16, 9000, 16, 333];
  const w = await walk(t, path, data, 4096, (i) => sizes[i % sizes.length]);
  t.ok(w > 100, `${w} windows`);
});

t.test('tails longer than the reserve and records longer than the chunk', async (t) => {
  const { path, data } = makeFile('mixed.bin', 2_000_003, 2);
  // 4096-byte chunk: a 1024-byte reserve; records up to 40 KiB force growth.
  const sizes = [3000, 16, 2047, 40_000, 1025, 4096, 5000, 12, 1023, 1024];
  await walk(t, path, data, 4096, (i) => sizes[i % sizes.length]);
  await walk(t, path, data, 65536, (i) => sizes[(i * 7) % sizes.length] * 3);
});

t.test('random record sizes over several chunk sizes', async (t) => {
  const { path, data } = makeFile('rand.bin', 3_000_001, 3);
  let x = 12345;
  const rnd = (): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x; };
  for (const chunk of [4096, 8192, 100_000]) {
    await walk(t, path, data, chunk, () => 1 + (rnd() % (rnd() % 8 === 0 ? 20_000 : 2000)));
  }
});

t.test('files shorter than a chunk, and empty', async (t) => {
  for (const size of [0, 1, 100, 4095, 4096, 4097, 8192]) {
    const { path, data } = makeFile(`short-${size}.bin`, size, 4 + size);
    await walk(t, path, data, 4096, () => 100);
  }
});

t.test('close() with a read-ahead in flight', async (t) => {
  const { path, data } = makeFile('stop.bin', 1 << 20, 5);
  for (const syncReads of [false, true]) {
    const r = new ChunkReader(path, 4096, syncReads);
    await r.open();
    const p = await r.need(0, 100);
    t.equal(p, 0);
    t.equal(data.compare(r.buf, 0, 100, 0, 100), 0);
    await r.close();
    await t.rejects(r.need(4000, 200), 'no reads after close');
  }
});

// A FIFO is read in order: a writer in another process sends the file in uneven pieces with
// pauses, so reads come back short and wait; the windows must still be the file's bytes.
t.test('a FIFO fed in pieces by another process', async (t) => {
  const { path: src, data } = makeFile('fifo-src.bin', 700_001, 6);
  for (const syncReads of [false, true]) {
    const fifo = join(dir, `pipe-${syncReads}`);
    t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const writer = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const d = fs.readFileSync(${JSON.stringify(src)}); const fd = fs.openSync(${JSON.stringify(fifo)}, 'w');
      let o = 0, i = 0; const step = () => { if (o >= d.length) { fs.closeSync(fd); return; }
        const n = Math.min(d.length - o, [1, 7000, 100, 65536, 3, 200000][i++ % 6]); fs.writeSync(fd, d, o, n); o += n; setTimeout(step, i % 4 === 0 ? 20 : 0); };
      step();`], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
    t.teardown(() => { if (writer.exitCode === null) writer.kill('SIGKILL'); });
    const sizes = [16, 1514, 60, 9000, 333, 40_000];
    const w = await walkWith(t, fifo, data, 4096, (i) => sizes[i % sizes.length], syncReads);
    t.ok(w > 50, `${w} windows (${syncReads ? 'synchronous' : 'pool'} reads)`);
    t.equal(await exited, 0, 'the writer finished');
  }
});

t.test('abort() ends a wait on a FIFO whose writer stays open and quiet', async (t) => {
  for (const syncReads of [false, true]) {
    const fifo = join(dir, `quiet-${syncReads}`);
    t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const r = new ChunkReader(fifo, 4096, syncReads);
    // the reader opens first: it must wait for the writer, not see an empty file
    await r.open();
    const writer = await open(fifo, 'w');
    t.teardown(() => writer.close().catch(() => {}));
    await writer.write(Buffer.from('0123456789'));
    t.equal(await r.need(0, 10), 0, 'what was written is read');
    const waiting = r.need(0, 11);
    let settled = false;
    void waiting.then(() => { settled = true; });
    await new Promise((res) => setTimeout(res, 50));
    t.notOk(settled, 'the next read waits for the writer');
    r.abort();
    const bound = new Promise<string>((res) => setTimeout(() => res('still waiting'), 10_000).unref());
    t.equal(await Promise.race([waiting, bound]), -1, 'abort() ends it as the end of the input');
    t.equal(r.available(r.pos), 10, 'with what was read kept');
    await r.close();
  }
});
