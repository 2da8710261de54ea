// URLs as channels show them: scheme, host and port only. Slack, Discord and Teams webhook
// paths, ntfy topics and query signatures are secrets in themselves, so no path ever shows.

/** "https://hooks.slack.com/…" for a URL with a path or query, the bare origin otherwise. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '(invalid URL)';
  }
  const hidden = (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '';
  return `${u.protocol}//${u.host}${hidden ? '/…' : ''}`;
}
