/**
 * An http(s) URL without query, fragment or credentials, as the text a node uses (no trailing
 * slash), or undefined when `raw` is none. REPLICA_OF and ADVERTISE_URL at start and the
 * leader of POST /replication/follow at run time follow this one rule.
 */
export function normalizeHttpUrl(raw: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (
    !['http:', 'https:'].includes(parsed.protocol) ||
    parsed.search !== '' ||
    parsed.hash !== '' ||
    parsed.username !== '' ||
    parsed.password !== ''
  ) {
    return undefined;
  }
  return parsed.href.replace(/\/+$/, '');
}
