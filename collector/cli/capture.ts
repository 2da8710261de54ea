// Runs a capture file through a Pipeline with a progress bar; shared by flows, devices and replay.

import { openCapture } from '../sources/pcap-file.js';
import type { Pipeline } from '../pipeline.js';
import { startProgress } from './progress.js';

export interface CaptureRun {
  /** the error that ended the file early (corrupt or truncated), after every frame before it was processed. */
  error: Error | null;
  /** wall-clock ms the read took. */
  ms: number;
}

export async function runCapture(path: string, pipeline: Pipeline): Promise<CaptureRun> {
  const source = openCapture(path);
  const progress = startProgress(source.size(), path.split('/').pop() ?? path);
  const t0 = performance.now();
  let error: Error | null = null;
  const handle = pipeline.handleFrame;
  let n = 0;
  try {
    await source.run((buf, off, caplen, wirelen, ts, linkType) => {
      handle(buf, off, caplen, wirelen, ts, linkType);
      if ((++n & 0xffff) === 0) progress.update(source.position());
    });
  } catch (err) {
    error = err as Error;
  } finally {
    progress.stop();
  }
  await pipeline.finish();
  return { error, ms: performance.now() - t0 };
}
