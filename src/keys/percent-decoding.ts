import { isUtf8 } from 'node:buffer';

/**
 * Percent-decodes exactly once into UTF-8 text, or returns undefined when the text has a
 * malformed escape or the bytes are not UTF-8. The platforms' own decoders would turn invalid
 * bytes into U+FFFD (or leave a bad escape as it is), so that two different requests would
 * name the same key or pattern. In a query, `+` is a space (HTML forms, and both platforms'
 * query parsers).
 */
export function decodePercentUtf8(raw: string, plusIsSpace: boolean): string | undefined {
  if (!raw.includes('%')) return plusIsSpace ? raw.replaceAll('+', ' ') : raw;
  const bytes = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code !== 0x25) {
      bytes[length++] = plusIsSpace && code === 0x2b ? 0x20 : code;
      continue;
    }
    const byte = parseHexByte(raw, i + 1);
    if (byte < 0) return undefined;
    bytes[length++] = byte;
    i += 2;
  }
  const decoded = bytes.subarray(0, length);
  // isUtf8 is native and, unlike toString, never silently substitutes U+FFFD.
  return isUtf8(decoded) ? decoded.toString('utf8') : undefined;
}

function parseHexByte(text: string, at: number): number {
  const pair = text.slice(at, at + 2);
  return /^[0-9a-fA-F]{2}$/.test(pair) ? parseInt(pair, 16) : -1;
}
