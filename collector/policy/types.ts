// The interface the rest of segwatch sees of a loaded, compiled policy. The policy
// module owns parsing, validation and compilation; detectors only ask questions.

import type { Anomaly, Proto, Text } from '../types.js';
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

/**
 * A flow as the evaluator sees it, from the opener's side. For evaluate() the watched
 * device opened it; for evaluateIn() the peer opened it to the device.
 */
export interface FlowFacts {
  proto: Proto;
  /**
   * the peer: the host the device opened the flow to (evaluate) or the host that opened it
   * (evaluateIn). Read only when dstKey is not its IPv4 address or a device or manufacturer rule could apply.
   */
  dst: Text;
  /** the responder's port (the peer's for evaluate, the device's for evaluateIn); ICMP: type*256+code. */
  dport: number;
  /** the opener's port; left out or -1 = unknown (then no `from_ports` rule matches). */
  sport?: number;
  /** addrKey() of dst when the caller has it: an IPv4 peer's bytes are then taken from it, not parsed from the text. */
  dstKey?: number | string;
}

/** A peer's known names, or a function giving them (evaluate() calls it only when a name rule could apply). */
export type PeerNames = readonly string[] | (() => readonly string[]);

/** Resolves `device:NAME` to that device's current addresses. */
export type DeviceIps = (name: string) => readonly string[];

/**
 * What evaluate() asks of the world outside the policy. The detector builds one per device
 * judged (or keeps one and sets selfMudHost); all of it must be cheap: manufacturer rules
 * call mudHostOf once per flow they could allow.
 */
export interface EvalContext {
  deviceIps: DeviceIps;
  /** the host (lower case) of the MUD URL the device at this address announced; "" when none. */
  mudHostOf(ip: string): string;
  /** the host (lower case) of the judged device's own MUD URL; "" when none (same-manufacturer then matches nothing). */
  selfMudHost: string;
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
  /** isWatched() of an IPv4 address given as addrKey() gives it (its 32-bit value): no text parsed. */
  isWatched4(v: number): boolean;
  /** segmentOf() of an IPv4 address as addrKey() gives it. */
  segmentOf4(v: number): string;
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
  /**
   * Is this flow, opened by a device with this profile, allowed (its `allow` rules)?
   * @param names domain names known for the peer (DNS answers the device got, SNI, HTTP Host),
   *   or a function giving them, called only when a name rule could apply to the flow's
   *   protocol and ports (a look-up per flow saved where no name rule could decide)
   * @param ctx resolves `device:NAME`, and MUD URL hosts for manufacturer rules; a bare
   *   deviceIps function means no MUD URLs are known
   * Pure: no I/O, no clock. A profile not defined (also "mud" and "learn") allows nothing.
   */
  evaluate(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict;
  /**
   * Is this flow, opened by the peer `flow.dst` to a device with this profile, allowed by its
   * `allow_in` rules? `flow.dport` is the device's port, `flow.sport` the opener's. Denied
   * when the profile has no `allow_in` section.
   */
  evaluateIn(profile: string, flow: FlowFacts, names: PeerNames, ctx: EvalContext | DeviceIps): Verdict;
  /** the profile has an `allow_in` section (flows from inside the site to its devices are judged). */
  hasAllowIn(profile: string): boolean;
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
  /**
   * The `mud:` section: `auto` (a watched device that announces a MUD URL and has no entry of
   * its own is judged by its MUD file; false when left out) and `dir` (a local folder of MUD
   * files, as written in the policy; undefined when left out).
   */
  mud(): { auto: boolean; dir?: string };
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
