import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { InvalidArgumentError } from '../kv/kv.errors';
import { WriteCondition } from '../kv/kv.service';
import { requestOf } from '../common/request-of';

/**
 * Conditional requests (RFC 9110 §13) on the store's entity-tags: a key's ETag is its
 * modRevision in quotes, `"5"`. Supported: If-Match on writes (one tag, or `*`), If-None-Match
 * `*` on PUT (create only), If-None-Match on GET (any list, answered with 304). Anything the
 * store cannot honour exactly is refused with a 400 rather than ignored.
 */
export interface Preconditions {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
}

/** `@Preconditions()`: the If-Match and If-None-Match headers of the request, as sent. */
export const Preconditions = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Preconditions => {
    const { headers } = requestOf<{ headers: Headers }>(context);
    return { ifMatch: single(headers['if-match']), ifNoneMatch: single(headers['if-none-match']) };
  },
);

type Headers = Record<string, string | string[] | undefined>;

/** The entity-tag of a key at `modRevision`. */
export function entityTag(modRevision: number): string {
  return `"${modRevision}"`;
}

/** PUT: If-Match (the key is at this revision, or exists) or If-None-Match: * (it does not). */
export function putCondition(preconditions: Preconditions): WriteCondition | undefined {
  const { ifMatch, ifNoneMatch } = preconditions;
  if (ifNoneMatch === undefined) return ifMatchCondition(ifMatch);
  if (ifMatch !== undefined) {
    throw new InvalidArgumentError('Send If-Match or If-None-Match, not both');
  }
  if (parseTags('If-None-Match', ifNoneMatch) !== '*') {
    throw new InvalidArgumentError('If-None-Match on PUT must be * (create only)');
  }
  return { require: 'absent' };
}

/** DELETE and PUT /ttl act on an existing key, so only If-Match applies. */
export function existingKeyCondition(preconditions: Preconditions): WriteCondition | undefined {
  if (preconditions.ifNoneMatch !== undefined) {
    throw new InvalidArgumentError('If-None-Match is only supported on GET, and on PUT as *');
  }
  return ifMatchCondition(preconditions.ifMatch);
}

/**
 * GET: checks the headers now and returns whether a key at a given modRevision is "not
 * modified" for the client (a 304). If-None-Match uses the weak comparison (RFC 9110 §13.1.2),
 * so `W/"5"` matches `"5"`; `*` matches any existing key.
 */
export function notModifiedCheck(preconditions: Preconditions): (modRevision: number) => boolean {
  if (preconditions.ifMatch !== undefined) {
    throw new InvalidArgumentError('If-Match is only supported on PUT and DELETE');
  }
  if (preconditions.ifNoneMatch === undefined) return () => false;
  const tags = parseTags('If-None-Match', preconditions.ifNoneMatch);
  if (tags === '*') return () => true;
  const opaque = new Set(tags.map((tag) => tag.opaque));
  return (modRevision) => opaque.has(String(modRevision));
}

function ifMatchCondition(raw: string | undefined): WriteCondition | undefined {
  if (raw === undefined) return undefined;
  const tags = parseTags('If-Match', raw);
  if (tags === '*') return { require: 'exists' };
  if (tags.length > 1) {
    throw new InvalidArgumentError(
      'If-Match takes one entity-tag, such as "3": a key has one revision',
    );
  }
  // If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag, or one the store never
  // hands out, matches no key. Revision 0 is no key's modRevision, so the guard fails and the
  // 412 reports the key's actual revision, read atomically with the check.
  const [tag] = tags;
  const revision = tag.weak || !REVISION.test(tag.opaque) ? 0 : Number(tag.opaque);
  return { require: 'modRevision', modRevision: revision };
}

interface EntityTag {
  readonly weak: boolean;
  /** The tag without W/ and quotes. */
  readonly opaque: string;
}

const REVISION = /^[1-9]\d{0,14}$/;

// One element of a comma-separated list (RFC 9110 §5.6.1): an entity-tag, or nothing (empty
// elements are allowed and ignored), then a comma or the end. etagc excludes spaces and quotes.
const LIST_ELEMENT = /[ \t]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(,|$)/y;

function parseTags(name: string, raw: string): EntityTag[] | '*' {
  if (raw.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  for (let at = 0; ; at = LIST_ELEMENT.lastIndex) {
    LIST_ELEMENT.lastIndex = at;
    const element = LIST_ELEMENT.exec(raw);
    if (element === null) return malformed(name);
    if (element[2] !== undefined) tags.push({ weak: element[1] !== undefined, opaque: element[2] });
    if (element[3] === '') break;
  }
  return tags.length > 0 ? tags : malformed(name);
}

function malformed(name: string): never {
  throw new InvalidArgumentError(`${name} must be * or entity-tags in quotes, such as "3"`);
}

/** Node joins repeated list headers with ", "; an array only comes from other sources. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
