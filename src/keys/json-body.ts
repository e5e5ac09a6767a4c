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
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

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
  let digitRun = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
      continue;
    }
    if (byte >= DIGIT_0 && byte <= DIGIT_9) {
      // A literal of more than 300 digits can overflow without any exponent.
      if (++digitRun > 300) mayOverflow = true;
      continue;
    }
    // An exponent follows a digit; the e of true and false does not.
    if ((byte === LOWER_E || byte === UPPER_E) && digitRun > 0) mayOverflow = true;
    digitRun = 0;
    if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) maxDepth = depth;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return { depth: maxDepth, mayOverflow };
}

function allNumbersFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  return Object.values(value).every(allNumbersFinite);
}
