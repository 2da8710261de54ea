// The interface the rest of segwatch sees of a loaded, compiled policy. The policy
// module owns parsing, validation and compilation; detectors only ask questions.

import type { Anomaly, Proto } from '../types.js';
import type { DetectSettings } from '../detect/settings.js';

/** What the policy needs to know of a device to place it and pick its entry. */
export interface DeviceFacts {
  mac: string;
  ip: string;
  vendor: string;
  hostname: string;
}

/** The policy's word on a device: its entry in `devices:` (or the default profile). */
export interface DevicePlacement {
  /**
   * The device's name, unique per device: the entry's name when the entry names one device
   * exactly (`mac:`, or `ip:` with one address), else `<entry>-<last three MAC bytes>`
   * (memberName() in compile.ts); "" when no entry matched (the default profile applies).
   */
  name: string;
  /** the matching entry's own name, what `device:NAME` rules name; "" when none matched. */
  entry: string;
  profile: string;
  /** listed in the policy (an entry matched). */
  known: boolean;
  /** e.g. "devices[2]" or "default_profile". */
  rule: string;
}

/** A flow as the evaluator sees it, from the watched device's side: it opened the flow. */
export interface FlowFacts {
  proto: Proto;
  /** the peer the device opened the flow to. */
  dst: string;
  dport: number;
}

export interface Verdict {
  allowed: boolean;
  /** the rule that allowed it, e.g. "profiles.camera.allow[1]"; "" when denied. */
  rule: string;
  /**
   * true when the flow is denied now but a domain rule of the profile matches its
   * protocol and port, so a name that arrives later (SNI, HTTP Host) could still allow it.
   */
  awaitingName: boolean;
}

export interface ProfileLimits {
  /** bytes in both directions per rolling hour; undefined = no limit. */
  bytesPerHour?: number;
  bytesPerDay?: number;
}

export interface CompiledPolicy {
  /** the file it was loaded from. */
  readonly source: string;
  /** segment name for an address: the most specific CIDR wins; "" when in none. */
  segmentOf(ip: string): string;
  /** the address lies in a watched segment. */
  isWatched(ip: string): boolean;
  /** the address lies in a protected segment; returns that segment's name or "". */
  protectedSegment(ip: string): string;
  /** an approved DNS resolver. */
  isResolver(ip: string): boolean;
  /** only frames of this 802.1Q VLAN are watched; undefined = all. */
  readonly vlan: number | undefined;
  /** the CIDRs and addresses of the watched segments, as written (live capture's `--bpf auto`). */
  readonly watchedCidrs?: readonly string[];
  /** first matching `devices:` entry, else the default profile. */
  place(device: DeviceFacts): DevicePlacement;
  /** device entry by name, for `device:NAME` rules (the evaluator resolves those itself). */
  /**
   * Is this flow, opened by a device with this profile, allowed?
   * @param names domain names known for the peer (DNS answers the device got, SNI, HTTP Host)
   * @param deviceIps resolves `device:NAME` to that device's current addresses
   * Pure: no I/O, no clock.
   */
  evaluate(profile: string, flow: FlowFacts, names: readonly string[], deviceIps: (name: string) => readonly string[]): Verdict;
  limits(profile: string): ProfileLimits;
  /** every profile name defined. */
  profiles(): readonly string[];
  /**
   * The `detectors:` section as DetectSettings fields: only those the policy sets ({} when
   * the section is absent); severity is partial, per kind. Overlay on defaults with
   * resolveSettings(). A fresh object each call.
   */
  detectSettings(): Partial<DetectSettings>;
  /** an `exceptions:` entry in force at `now` accepts this anomaly (it is marked suppressed). */
  suppresses(a: Pick<Anomaly, 'device' | 'kind' | 'peer' | 'peerName' | 'peerPort'>, now: number): boolean;
  /** when the next exception ends after `now` (what it accepted alerts again), or Infinity. */
  nextExceptionEnd(now: number): number;
}

/** One problem in a policy file, with its place. line/col are 1-based. */
export interface PolicyError {
  file: string;
  line: number;
  col: number;
  /** what was expected, e.g. "expected a CIDR like 192.168.50.0/24, got \"192.168.300.0/24\"". */
  message: string;
  /** dotted path, e.g. "profiles.camera.allow[0].to". */
  path: string;
}
