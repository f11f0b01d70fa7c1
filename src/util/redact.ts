// The one place that decides what of a secret may be printed. Everything that shows a transport
// URL or an option value (log lines, error messages, the operator CLI, the debug dump of the
// configuration, metrics labels) goes through here:
//   redactTransportUrl   passwords of a transport URL → '****'
//   shownOptionValue     an option's value as it may be shown ('****' for secret options)
//   redactSecrets        last line of defence in the log sink: any registered secret → '****'
export const MASK = '****';

/** The URL with every password replaced by '****' (safe for logs). Never throws. */
export function redactTransportUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!m) return url.replace(/:[^:@/]*@/g, `:${MASK}@`);
  const netloc = m[2]!.split(',').map((entry) => {
    const at = entry.lastIndexOf('@');
    if (at < 0) return entry;
    const user = entry.slice(0, at);
    const colon = user.indexOf(':');
    return colon < 0 ? entry : `${user.slice(0, colon)}:${MASK}${entry.slice(at)}`;
  }).join(',');
  return m[1]! + netloc + m[3]!;
}

/** A value of an option as it may be printed: a secret URL keeps its hosts, any other secret is masked. */
export function shownOptionValue(secret: boolean, raw: string): string {
  if (!secret) return raw;
  return raw.includes('://') ? redactTransportUrl(raw) : MASK;
}

// oslo.messaging's well-known default password: masking it would only hide the user name "guest".
const NOT_SECRET = new Set(['', 'guest']);
const secrets = new Set<string>();

/**
 * Registers a secret (a broker password), in the forms it can take in text (as given, and
 * percent-encoded as it appears in a URL), so that redactSecrets() masks it wherever it turns up.
 */
export function registerSecret(secret: string): void {
  if (NOT_SECRET.has(secret)) return;
  secrets.add(secret);
  secrets.add(encodeURIComponent(secret));
}

/** `text` with every registered secret replaced by '****'. */
export function redactSecrets(text: string): string {
  let out = text;
  // Longest first: a secret that contains another is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
}
