// A profile snippet from policies/profiles/ as a whole policy: a minimal site around it, in
// which the snippet may use segment:iot and every service. Shared by the policy tests that
// load the example profiles.

export function siteAround(snippet: string, profile: string): string {
  return `version: 1
segments:
  iot: ["192.168.50.0/24", "fd00:50::/64"]
watch: [iot]
resolvers: ["192.168.50.1"]
default_profile: ${profile}
profiles:
${snippet.split('\n').map((l) => (l ? '  ' + l : l)).join('\n')}`;
}
