// Which MUD URLs a device may announce (RFC 8520 section 10): a device chooses its own, so the
// text is checked before it is stored, shown, or handed to anything that fetches.

/** Longest MUD URL kept: DHCPv4 option 161 carries at most 255 bytes; LLDP and DHCPv6 allow more. */
export const MUD_URL_MAX = 255;

/**
 * true when s is an https URL (RFC 8520 requires the scheme) with a host, no user or password,
 * at most MUD_URL_MAX printable ASCII characters without spaces.
 */
export function validMudUrl(s: string): boolean {
  if (s.length < 9 || s.length > MUD_URL_MAX) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c > 0x7e) return false;
  }
  // the WHATWG parser reads "https:///x" as host "x": the text itself must name the host
  if (!/^https:\/\/[^/\\?#]/i.test(s)) return false;
  let u: URL;
  try { u = new URL(s); } catch { return false; }
  return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
}
