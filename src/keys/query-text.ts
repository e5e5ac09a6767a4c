import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError } from '../kv/kv.errors';
import { decodePercentUtf8 } from './percent-decoding';

/**
 * A text parameter read from the raw query string and decoded as keys are: malformed escapes
 * and bytes that are not UTF-8 are a 400, where both platforms' query parsers would quietly
 * turn `%FF` into U+FFFD (a pattern matching other keys than the caller meant). Undefined
 * when absent; a parameter without `=` is the empty text.
 */
export function queryTextFromUrl(url: string, name: string): string | undefined {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return undefined;
  let found: string | undefined;
  for (const pair of url.slice(queryAt + 1).split('&')) {
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    if (decodePercentUtf8(rawName, true) !== name) continue;
    if (found !== undefined) throw new InvalidArgumentError(`${name} must be given once`);
    const value = decodePercentUtf8(equals === -1 ? '' : pair.slice(equals + 1), true);
    if (value === undefined) {
      throw new InvalidArgumentError(`${name} has malformed percent-encoding or is not UTF-8`);
    }
    found = value;
  }
  return found;
}

/** `@QueryText('pattern')`: the parameter's decoded text (see queryTextFromUrl). */
export const QueryText = createParamDecorator((name: string, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<{ originalUrl?: string; url: string }>();
  return queryTextFromUrl(request.originalUrl ?? request.url, name);
});
