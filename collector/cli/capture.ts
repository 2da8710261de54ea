// Runs a capture file through a Pipeline with a progress bar; shared by flows, devices and replay.

import { openCapture } from '../sources/pcap-file.js';
import type { Pipeline } from '../pipeline.js';
import { startProgress } from './progress.js';
import { captureSize, type DecodeThread } from '../sources/threaded-file.js';
import type { FlowThread } from '../sources/flow-thread.js';

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
  /**
   * The thread already reading `path` (started early) that decodes it and counts its flows too:
   * this one then runs the app layer, inventory, detectors and sinks on what it hands over.
   */
  flowThread?: FlowThread;
}

/**
 * Captures of NetFlow/IPFIX export datagrams (`--netflow-capture`), in the order given, through
 * one decoder into the pipeline's record entry; then the pipeline finishes. The capture's error
 * (after every record before it) is returned, as runCapture does.
 */
export async function runExportCaptures(paths: readonly string[], pipeline: Pipeline): Promise<CaptureRun & { source: import('../sources/flow-export-capture.js').FlowExportCaptureSource }> {
  const { FlowExportCaptureSource } = await import('../sources/flow-export-capture.js');
  // the only source of the run: its flows are numbered from 1, as a packet capture's are
  const source = new FlowExportCaptureSource(paths, { join: { firstId: 1 } });
  const t0 = performance.now();
  let error: Error | null = null;
  try {
    await source.run(pipeline.handleRecord);
  } catch (err) {
    error = err as Error;
  }
  await pipeline.finish();
  return { error, ms: performance.now() - t0, source };
}

/** One line on what the export captures held, for a summary on stderr. */
export function exportCaptureSummary(s: import('../sources/flow-export-capture.js').FlowExportCaptureSource): string {
  const d = s.detail();
  if (!d) return 'no export datagrams';
  return `${d.datagrams} export datagrams, ${d.records} records, ${d.flows} flows (${d.join.joined} joined pairs), ` +
    `${d.malformed} malformed, ${d.noTemplate} without template, ${d.lost} lost by sequence, ${s.skipped} packets not UDP`;
}

export async function runCapture(path: string, pipeline: Pipeline, opts: RunCaptureOptions = {}): Promise<CaptureRun> {
  const progress = startProgress(captureSize(path), path.split('/').pop() ?? path);
  const t0 = performance.now();
  let error: Error | null = null;
  try {
    if (opts.flowThread) {
      await opts.flowThread.run((flows) => pipeline.flowThreadEntry(flows), pipeline.flowOptions, (pos) => progress.update(pos));
    } else if (opts.decodeThread) {
      await opts.decodeThread.run(pipeline.handlePacket, (pos) => progress.update(pos));
    } else {
      const source = openCapture(path);
      const handle = pipeline.handleStampedFrame;
      let n = 0;
      // without a bar (not a terminal: every bench, pipe and CI log) no wrapper call per frame
      await source.run(!progress.shown ? handle : (buf, off, caplen, wirelen, ts, linkType) => {
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
