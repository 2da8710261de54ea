// Names the policy language reserves or knows, shared by the schema (TypeBox, only at build
// time) and the validator and compiler (at run time, which must not load TypeBox).

/** ICMP type names (RFC 792 and later) as `icmp:` accepts them. */
export const ICMP4_TYPES: Readonly<Record<string, number>> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  timestamp: 13, 'timestamp-reply': 14,
};

/** ICMPv6 type names (RFC 4443, 4861, 2710, 3810) as `icmpv6:` accepts them. */
export const ICMP6_TYPES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4,
  'echo-request': 128, 'echo-reply': 129, 'mld-query': 130, 'mld-report': 131, 'mld-done': 132,
  'router-solicitation': 133, 'router-advertisement': 134, 'neighbor-solicitation': 135,
  'neighbor-advertisement': 136, redirect: 137, 'mldv2-report': 143,
};

/**
 * Profile names with a meaning of their own, which need no `profiles:` entry: `mud` (judged by
 * the MUD file the device's MUD URL names) and `learn` (its profile is being learned).
 */
export const RESERVED_PROFILES = ['mud', 'learn'] as const;
