import { InvalidArgumentError } from '../kv/kv.errors';

/**
 * Query values arrive as strings, or as arrays when repeated. Syntax is checked here; ranges
 * are the domain's business.
 */
function single(name: string, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new InvalidArgumentError(`${name} must be given once`);
  return raw;
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** Seconds in plain decimal notation: `10`, `0.5`; not `1e3`, `Infinity` or empty. */
export function parseSeconds(name: string, raw: unknown): number | undefined {
  const text = single(name, raw);
  if (text === undefined) return undefined;
  if (!DECIMAL.test(text)) {
    throw new InvalidArgumentError(`${name} must be a positive number of seconds`);
  }
  return Number(text);
}

export function parseFlag(name: string, raw: unknown): boolean {
  const text = single(name, raw);
  if (text === undefined || text === 'false') return false;
  if (text === 'true' || text === '') return true;
  throw new InvalidArgumentError(`${name} must be true or false`);
}

/** Digits only; `rule` says what the value must be, in the words of the range check after. */
export function parseInteger(
  name: string,
  raw: unknown,
  rule = 'a positive integer',
): number | undefined {
  const text = single(name, raw);
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError(`${name} must be ${rule}`);
  return Number(text);
}

export function parseText(name: string, raw: unknown): string | undefined {
  return single(name, raw);
}
