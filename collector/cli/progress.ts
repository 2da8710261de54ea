// A progress bar on stderr for long capture files, only when stderr is a terminal
// (pipes and CI logs get none).

import cliProgress from 'cli-progress';

export interface Progress {
  /** false: no bar is shown, and update() need not be called */
  readonly shown: boolean;
  update(done: number): void;
  stop(): void;
}

const none: Progress = { shown: false, update() {}, stop() {} };

/** total and done are bytes of the file. */
export function startProgress(total: number, label: string): Progress {
  if (!process.stderr.isTTY || total < 32 * 1024 * 1024) return none;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value_mb}/{total_mb} MB | ETA {eta}s`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const mb = (n: number) => (n / 1048576).toFixed(0);
  bar.start(total, 0, { value_mb: '0', total_mb: mb(total) });
  let last = 0;
  return {
    shown: true,
    update(done: number) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      bar.update(done, { value_mb: mb(done) });
    },
    stop() {
      bar.stop();
    },
  };
}
