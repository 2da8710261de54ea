// The BPF filter a policy implies (`--bpf auto`), so the kernel discards what segwatch would not
// look at before it is copied to user space: frames of the policy's VLAN only (when it names
// one), and of those IP packets from or to a watched segment, plus what the inventory learns
// from whatever addresses it carries: ARP, IPv6 neighbour discovery (ICMPv6 133-137, from
// link-local addresses) and DHCP/DHCPv6 (from 0.0.0.0 and link-local). A flow with neither end
// in a watched segment is not judged, and no device is learnt from it; what the filter drops
// is that. A policy with a protected segment needs nothing more: a flow into it is judged only
// when a watched device opens it.

export interface BpfScope {
  vlan?: number;
  /** CIDRs or addresses of the watched segments, as the policy writes them (validated there). */
  watchedCidrs?: readonly string[];
}

/** The filter expression, in libpcap's syntax. */
export function autoBpf(scope: BpfScope): string {
  const inventory = [
    'arp',
    // ND: router/neighbour solicitations and advertisements, redirects (no extension headers:
    // ND forbids them)
    '(icmp6 and ip6[40] >= 133 and ip6[40] <= 137)',
    '(udp and (port 67 or port 68 or port 546 or port 547))',
  ];
  const nets = (scope.watchedCidrs ?? []).map((c) => (c.includes('/') ? `net ${c}` : `host ${c}`));
  const what = [...inventory, ...nets].join(' or ');
  // `vlan N` moves the offsets of what follows to after the tag, so it must come first
  return scope.vlan !== undefined ? `vlan ${scope.vlan} and (${what})` : what;
}
