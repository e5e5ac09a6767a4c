import { isUtf8 } from 'node:buffer';
import { InvalidJsonError } from '../kv/kv.errors';

/** Deeper documents are refused: JSON.stringify recurses and would overflow the stack. */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/**
 * Parses a request body as JSON whatever its Content-Type (the classic clients send none, or
 * a form type from `curl -d`) and returns the canonical text the store keeps.
 */
export function parseJsonBody(body: unknown): string {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new InvalidJsonError('empty body');
  if (!isUtf8(body)) throw new InvalidJsonError('not UTF-8');
  const shape = scanShape(body);
  if (shape.depth > MAX_JSON_DEPTH) throw new InvalidJsonError('too deep');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidJsonError('syntax');
  }
  // 1e400 parses to Infinity, which JSON.stringify would silently store as null.
  if (shape.mayOverflow && !allNumbersFinite(value)) throw new InvalidJsonError('number range');
  return JSON.stringify(value);
}

/** One pass over the bytes outside strings: nesting depth, and whether a number could overflow. */
function scanShape(bytes: Buffer): { depth: number; mayOverflow: boolean } {
  let depth = 0;
  let maxDepth = 0;
  let inString = false;
  let mayOverflow = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) maxDepth = depth;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    } else if (byte === LOWER_E || byte === UPPER_E) {
      // Outside strings an e is an exponent (or part of true/false, a harmless false alarm).
      mayOverflow = true;
    }
  }
  // A literal with more than 300 digits overflows without any exponent.
  return { depth: maxDepth, mayOverflow: mayOverflow || bytes.length > 300 };
}

function allNumbersFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  return Object.values(value).every(allNumbersFinite);
}
