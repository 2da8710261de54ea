// Guards the pipeline's packet-time clock against timestamps that jump (issue 9).
//
// Replays run on packet time (DESIGN.md), so a timestamp decides when flows expire, when
// intervals close and when detectors forget. One corrupt record (one byte of a timestamp
// changed: 150 years ahead) used to move that clock for good: every 60 s interval up to
// the new time was walked, and every later, correct packet then looked 150 years old, so
// no flow expired and no interval closed for the rest of the file. A clock set back has the
// mirror effect. The guard keeps the source's recent clock and hands back, for each
// timestamp, the time the pipeline should use:
//
// - within maxSkewMs of the clock: accepted as is (going back a little is normal: merged
//   interfaces, reordered packets); the clock is the highest accepted time;
// - farther ahead or behind, not finite, or negative: an outlier. It is counted and the
//   clock is handed back instead (clamped), so one bad record costs that record's time only;
// - `confirm` outliers in a row that agree with each other (each within maxSkewMs of the
//   latest of them): the source's time really moved (a capture paused for days, files
//   merged, a clock set). The clock moves there and the confirming timestamp is accepted;
//   the outliers before it stay clamped, the price of telling a move from a bad record
//   without looking ahead (the guard sees one packet at a time and keeps none).
//
// A live source calls advanceTo(wall clock) from its timer, so a quiet network (no packets
// for days) is not taken for a jump when traffic resumes.
//
// Hot path: check() runs once per packet; it allocates nothing and branches a few times.

export interface TimeGuardOptions {
  /** How far (ms) a timestamp may stray from the clock, either way, before it is an outlier. Default 1 day. */
  maxSkewMs?: number;
  /** Agreeing outliers in a row that move the clock (at least 1; 1 accepts every jump at once). Default 4. */
  confirm?: number;
}

export const DEFAULT_MAX_SKEW_MS = 86_400_000;
export const DEFAULT_CONFIRM = 4;

export class TimeGuard {
  readonly maxSkewMs: number;
  readonly confirm: number;
  /** The source's recent clock (ms since epoch); NaN until the first valid timestamp seeds it. */
  clock = NaN;
  /** Timestamps clamped because they lay more than maxSkewMs ahead of the clock. */
  forward = 0;
  /** Timestamps clamped because they lay more than maxSkewMs behind the clock. */
  backward = 0;
  /** Timestamps clamped because they were not finite or were negative. */
  invalid = 0;
  /** Confirmed moves: times the clock jumped because `confirm` outliers agreed. */
  moves = 0;
  /** Outliers in the current run of agreeing ones, and the latest time among them. */
  private run = 0;
  private runClock = 0;

  constructor(opts: TimeGuardOptions = {}) {
    const skew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    const confirm = opts.confirm ?? DEFAULT_CONFIRM;
    if (!(skew >= 0)) throw new RangeError(`maxSkewMs must be >= 0, got ${skew}`);
    if (!(Number.isInteger(confirm) && confirm >= 1)) throw new RangeError(`confirm must be an integer >= 1, got ${confirm}`);
    this.maxSkewMs = skew;
    this.confirm = confirm;
  }

  /** Every timestamp clamped so far (forward + backward + invalid). */
  get clamped(): number {
    return this.forward + this.backward + this.invalid;
  }

  /**
   * The time to use for a packet stamped ts (ms since epoch): ts itself, or the clock when ts
   * is an outlier. Before any valid timestamp an invalid one gives 0 (no time known yet).
   */
  check(ts: number): number {
    const clock = this.clock;
    // Written so NaN fails every comparison into the outlier branch; clock is NaN only unseeded.
    if (!(ts >= 0 && ts < Infinity)) {
      this.invalid++;
      return clock === clock ? clock : 0;
    }
    if (clock !== clock) {
      this.clock = ts;
      return ts;
    }
    const skew = this.maxSkewMs;
    if (ts <= clock + skew && ts >= clock - skew) {
      this.run = 0;
      if (ts > clock) this.clock = ts;
      return ts;
    }
    // An outlier: does it carry on the current run (agree with the latest outlier)?
    if (this.run > 0 && ts <= this.runClock + skew && ts >= this.runClock - skew) {
      this.run++;
      if (ts > this.runClock) this.runClock = ts;
    } else {
      this.run = 1;
      this.runClock = ts;
    }
    if (this.run >= this.confirm) {
      // The source's time really moved, forward or back: follow it.
      this.clock = this.runClock;
      this.run = 0;
      this.moves++;
      return ts;
    }
    if (ts > clock) this.forward++;
    else this.backward++;
    return clock;
  }

  /**
   * Wall-clock time has reached `now` (a live source's timer): the clock moves up to it, so
   * packets after a long quiet period are on time, not a jump. Never moves the clock back, and
   * leaves a run of outliers in progress alone. Invalid values are ignored.
   */
  advanceTo(now: number): void {
    if (!(now >= 0 && now < Infinity)) return;
    if (!(this.clock >= now)) this.clock = now;
  }
}
