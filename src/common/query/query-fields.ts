import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, ValidationArguments } from 'class-validator';
import { QueryProblem } from './query-string';

/**
 * Property decorators for query DTOs. A query value arrives as text (see query-string.ts); a
 * field turns it into its type with class-transformer and class-validator checks the result,
 * with a message in the words the routes have always used: `limit must be a positive
 * integer`, `ttl must be given once`. Syntax is checked here; ranges are the domain's business,
 * which applies the same rules to POST /txn.
 */

/** A value a field could not read: kept apart from every value a field can hold. */
const UNREADABLE = Symbol('unreadable');

function queryField(kind: string, rule: string, read: (text: string) => unknown) {
  return applyDecorators(
    Transform(({ obj, key }) => {
      const raw: unknown = (obj as Record<string, unknown>)[key];
      return typeof raw === 'string' ? read(raw) : raw;
    }),
    ValidateBy({
      name: kind,
      validator: {
        validate: (value: unknown) => value !== UNREADABLE && !(value instanceof QueryProblem),
        defaultMessage: ({ property, value }: ValidationArguments) =>
          `${property} ${problemOf(value) ?? `must be ${rule}`}`,
      },
    }),
  );
}

function problemOf(value: unknown): string | undefined {
  if (!(value instanceof QueryProblem)) return undefined;
  return value.reason === 'repeated'
    ? 'must be given once'
    : 'has malformed percent-encoding or is not UTF-8';
}

/** Text as given, decoded once (a pattern, a cursor). */
export const QueryText = () => queryField('queryText', 'text', (text) => text);

const DIGITS = /^\d{1,15}$/;

/** Digits only: not `-1`, `1.5`, `1e3`, `0x10` or ` 1`; `rule` words what it must be. */
export const QueryInteger = (rule = 'a positive integer') =>
  queryField('queryInteger', rule, (text) => (DIGITS.test(text) ? Number(text) : UNREADABLE));

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** Seconds in plain decimal notation: `10`, `0.5`; not `1e3`, `Infinity` or empty. */
export const QuerySeconds = () =>
  queryField('querySeconds', 'a positive number of seconds', (text) =>
    DECIMAL.test(text) ? Number(text) : UNREADABLE,
  );

/** `true`, `false`, or the name alone (`?meta`), which means true. */
export const QueryFlag = () =>
  queryField('queryFlag', 'true or false', (text) =>
    text === 'true' || text === '' ? true : text === 'false' ? false : UNREADABLE,
  );

const REFUSES_UNKNOWN = Symbol('refusesUnknownParameters');

/**
 * On a write's query DTO: a parameter it does not know is a 400, not ignored, so that a
 * misspelt one (`?TTL=5`, `?EX=5`) cannot silently change what the write does. Reads ignore
 * what they do not know, as clients add cache busters (jQuery's `_=`).
 */
export function RefusesUnknownParameters(): ClassDecorator {
  return (target) => Reflect.defineMetadata(REFUSES_UNKNOWN, true, target);
}

export function refusesUnknownParameters(dto: object): boolean {
  return Reflect.getMetadata(REFUSES_UNKNOWN, dto) === true;
}
