/**
 * Where in a JSON document a refused part is, as a JSON Pointer (RFC 6901) for the error
 * answer. Only runs once a body is refused, on text JSON.parse accepted and nested at most
 * MAX_JSON_DEPTH deep; a pointer longer than MAX_POINTER_CHARS is left out of the answer,
 * which should not echo a large part of the request.
 */

const MAX_POINTER_CHARS = 256;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** The pointer of the value that starts at byte `offset`. */
export function pointerOfValueAt(bytes: Buffer, offset: number): string | undefined {
  return shorten(walk(bytes, offset));
}

/** The pointer of the first member whose name its object already had. */
export function pointerOfRepeatedName(bytes: Buffer): string | undefined {
  return shorten(walk(bytes, REPEATED_NAME));
}

/** The target of a walk that looks for a repeated name rather than for an offset. */
const REPEATED_NAME = -1;

function shorten(pointer: string | undefined): string | undefined {
  return pointer !== undefined && pointer.length <= MAX_POINTER_CHARS ? pointer : undefined;
}

interface Container {
  /** The member names seen so far, for an object; undefined for an array. */
  readonly names: Set<string> | undefined;
  index: number;
}

/**
 * Walks the document's values in order, keeping the path to the current one, until the value
 * starting at `target` or, for REPEATED_NAME, a repeated member name. Segments are joined
 * only for the answer.
 */
function walk(bytes: Buffer, target: number): string | undefined {
  const open: Container[] = [];
  const path: string[] = [];
  let i = skipSpace(bytes, 0);
  /** Reads a member name and its colon; true if the object already had the name. */
  const readName = (container: Container): boolean => {
    const start = skipSpace(bytes, i);
    i = stringEnd(bytes, start);
    const name = JSON.parse(bytes.toString('utf8', start, i)) as string;
    i = skipSpace(bytes, skipSpace(bytes, i) + 1);
    path[path.length - 1] = name.replace(/~/g, '~0').replace(/\//g, '~1');
    if (target !== REPEATED_NAME) return false;
    if (container.names!.has(name)) return true;
    container.names!.add(name);
    return false;
  };
  for (;;) {
    if (i === target) return pointer(path);
    const byte = bytes[i];
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      const isObject = byte === OPEN_BRACE;
      i = skipSpace(bytes, i + 1);
      if (bytes[i] !== (isObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
        const container: Container = { names: isObject ? new Set() : undefined, index: 0 };
        open.push(container);
        path.push('0');
        if (isObject && readName(container)) return pointer(path);
        continue;
      }
      i++;
    } else if (byte === QUOTE) {
      i = stringEnd(bytes, i);
    } else {
      while (i < bytes.length && !endsLiteral(bytes[i])) i++;
    }
    // The value is complete: close the containers it completes, then go on to the next one.
    for (;;) {
      const container = open.at(-1);
      if (container === undefined) return undefined;
      i = skipSpace(bytes, i);
      if (bytes[i++] !== COMMA) {
        open.pop();
        path.pop();
        continue;
      }
      container.index++;
      if (container.names === undefined) path[path.length - 1] = String(container.index);
      else if (readName(container)) return pointer(path);
      i = skipSpace(bytes, i);
      break;
    }
  }
}

function pointer(path: readonly string[]): string {
  return path.map((segment) => `/${segment}`).join('');
}

function stringEnd(bytes: Buffer, start: number): number {
  let i = start + 1;
  while (bytes[i] !== QUOTE) i += bytes[i] === BACKSLASH ? 2 : 1;
  return i + 1;
}

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === TAB || byte === LINE_FEED || byte === CARRIAGE_RETURN;
}

function skipSpace(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

function endsLiteral(byte: number): boolean {
  return byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isSpace(byte);
}
