import { decodePercentUtf8 } from '../../keys/percent-decoding';

/** A parameter given more than once, or whose value is not text: its field reports it. */
export class QueryProblem {
  constructor(readonly reason: 'repeated' | 'undecodable') {}
}

export type RawQueryValue = string | QueryProblem;

export interface ParsedQuery {
  /** By decoded name; no prototype, so `__proto__` is a name like any other. */
  readonly values: Record<string, RawQueryValue>;
  /** A name that is not text was given: it cannot be a parameter a route knows. */
  readonly hasUndecodableName: boolean;
}

/**
 * Parses a query string (the text after `?`) the way keys are decoded: percent-decoded once,
 * `+` as a space, and malformed escapes or bytes that are not UTF-8 marked rather than turned
 * into U+FFFD, as both platforms' parsers would (a pattern matching other keys than the caller
 * meant). One parser for both platforms, so that Express and Fastify read a query alike. A
 * parameter without `=` is the empty text.
 */
export function parseQueryString(query: string): ParsedQuery {
  const parameters: Record<string, RawQueryValue> = Object.create(null);
  let hasUndecodableName = false;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodePercentUtf8(equals === -1 ? pair : pair.slice(0, equals), true);
    if (name === undefined) {
      hasUndecodableName = true;
      continue;
    }
    if (name in parameters) {
      parameters[name] = REPEATED;
      continue;
    }
    const value = decodePercentUtf8(equals === -1 ? '' : pair.slice(equals + 1), true);
    parameters[name] = value ?? UNDECODABLE;
  }
  return { values: parameters, hasUndecodableName };
}

const REPEATED = new QueryProblem('repeated');
const UNDECODABLE = new QueryProblem('undecodable');
