// Runs a capture file through a Pipeline with a progress bar; shared by flows, devices and replay.

import { openCapture } from '../sources/pcap-file.js';
import type { Pipeline } from '../pipeline.js';
import { startProgress } from './progress.js';
import { captureSize, type DecodeThread } from '../sources/threaded-file.js';

export interface CaptureRun {
  /** the error that ended the file early (corrupt or truncated), after every frame before it was processed. */
  error: Error | null;
  /** wall-clock ms the read took. */
  ms: number;
}

export interface RunCaptureOptions {
  /**
   * The thread already reading and decoding `path` (started early, so it starts up while the
   * caller prepares): this one then only runs the pipeline. Only for pipelines that learn
   * nothing from packet payloads beyond the TCP name search (`segwatch flows`): the decode
   * thread hands over headers, not frames.
   */
  decodeThread?: DecodeThread;
}

export async function runCapture(path: string, pipeline: Pipeline, opts: RunCaptureOptions = {}): Promise<CaptureRun> {
  const progress = startProgress(captureSize(path), path.split('/').pop() ?? path);
  const t0 = performance.now();
  let error: Error | null = null;
  try {
    if (opts.decodeThread) {
      await opts.decodeThread.run(pipeline.handlePacket, (pos) => progress.update(pos));
    } else {
      const source = openCapture(path);
      const handle = pipeline.handleStampedFrame;
      let n = 0;
      await source.run((buf, off, caplen, wirelen, ts, linkType) => {
        handle(buf, off, caplen, wirelen, ts, linkType);
        if ((++n & 0xffff) === 0) progress.update(source.position());
      }, pipeline.stamp);
    }
  } catch (err) {
    error = err as Error;
  } finally {
    progress.stop();
  }
  await pipeline.finish();
  return { error, ms: performance.now() - t0 };
}
