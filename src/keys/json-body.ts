import { isUtf8 } from 'node:buffer';
import { InvalidJsonError } from '../kv/kv.errors';
import { pointerOfRepeatedName, pointerOfValueAt } from './json-locations';
import { inexactNumberReason, MAX_EXACT_DIGITS } from './json-numbers';

/** Deeper documents are refused: JSON.stringify recurses and would overflow the stack. */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const DOT = 0x2e;
const PLUS = 0x2b;
const MINUS = 0x2d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

const IN_OBJECT = 1;

/**
 * Parses a request body as JSON whatever its Content-Type (the classic clients send none, or
 * a form type from `curl -d`) and returns the canonical text the store keeps.
 *
 * A database must answer with what it acknowledged, and JSON.parse changes two things silently:
 * a number becomes the nearest 64-bit float (9007199254740993 is kept as 9007199254740992), and
 * of repeated member names the last one wins (RFC 8259 leaves their meaning undefined). Such
 * values are refused with a reason; text that is not JSON at all gets the classic bare answer.
 */
export function parseJsonBody(body: unknown): string {
  return JSON.stringify(parseJsonDocument(body));
}

/**
 * The parsed document, checked by the same rules, for bodies whose members are read rather than
 * stored whole (POST /txn, PUT /ttl): parsed once, never written out and read back. Values in
 * it are stored as JSON.stringify writes them, which is the canonical text parseJsonBody gives.
 */
export function parseJsonDocument(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new InvalidJsonError();
  if (!isUtf8(body)) throw new InvalidJsonError();
  const shape = scanShape(body);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidJsonError();
  }
  checkNumbers(body, shape.suspectNumbers);
  if (shape.namesCouldRepeat && countMembers(value) !== shape.members) {
    throw new InvalidJsonError('Duplicate member name', pointerOfRepeatedName(body));
  }
  return value;
}

interface BodyShape {
  /** Start and end offsets, in pairs, of the number literals that may not survive as floats. */
  readonly suspectNumbers: readonly number[];
  /** Members of every object together: each has exactly one colon outside strings. */
  readonly members: number;
  /** Whether some object has two members or more, so that a name could repeat. */
  readonly namesCouldRepeat: boolean;
}

/** The kind of container open at each depth (IN_OBJECT or not); reused, the scan is synchronous. */
const containers = new Uint8Array(MAX_JSON_DEPTH + 1);

/**
 * One pass over the bytes outside strings, so that the checks after JSON.parse run only where
 * they could find something: the number literals that may not be exact (more significant
 * digits than a float always keeps, or an exponent, which may overflow or underflow), and
 * whether any object has two members. Refuses a document nested too deep before parsing it.
 * The text may not be JSON at all: JSON.parse decides that afterwards.
 */
function scanShape(bytes: Buffer): BodyShape {
  const suspectNumbers: number[] = [];
  let members = 0;
  let namesCouldRepeat = false;
  let depth = 0;
  let inString = false;
  let numberStart = -1;
  let digits = 0;
  let hasExponent = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
      continue;
    }
    if (numberStart !== -1) {
      if (byte >= DIGIT_0 && byte <= DIGIT_9) {
        if (!hasExponent) digits++;
        continue;
      }
      if (byte === DOT || byte === PLUS || byte === MINUS) continue;
      if (byte === LOWER_E || byte === UPPER_E) {
        hasExponent = true;
        continue;
      }
      if (hasExponent || digits > MAX_EXACT_DIGITS) suspectNumbers.push(numberStart, i);
      numberStart = -1;
    }
    if ((byte >= DIGIT_0 && byte <= DIGIT_9) || byte === MINUS) {
      numberStart = i;
      digits = byte === MINUS ? 0 : 1;
      hasExponent = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === COLON) {
      members++;
    } else if (byte === COMMA) {
      if (depth > 0 && containers[depth] === IN_OBJECT) namesCouldRepeat = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH) throw new InvalidJsonError();
      containers[depth] = byte === OPEN_BRACE ? IN_OBJECT : 0;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  if (numberStart !== -1 && (hasExponent || digits > MAX_EXACT_DIGITS)) {
    suspectNumbers.push(numberStart, bytes.length);
  }
  return { suspectNumbers, members, namesCouldRepeat };
}

/** Refuses the first number literal, in document order, that no float holds exactly. */
function checkNumbers(bytes: Buffer, suspects: readonly number[]): void {
  for (let at = 0; at < suspects.length; at += 2) {
    const reason = inexactNumberReason(bytes.toString('latin1', suspects[at], suspects[at + 1]));
    if (reason !== undefined) {
      throw new InvalidJsonError(reason, pointerOfValueAt(bytes, suspects[at]));
    }
  }
}

/** Members of every object in a parsed document: fewer than written when a name repeated. */
function countMembers(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countMembers(item);
    return count;
  }
  const object = value as Record<string, unknown>;
  for (const name in object) count += 1 + countMembers(object[name]);
  return count;
}
