import { InvalidArgumentError } from '../kv/kv.errors';
import {
  entityTag,
  existingKeyCondition,
  notModifiedCheck,
  putCondition,
} from './conditional-headers';

describe('conditional headers', () => {
  it('tags a key with its modRevision in quotes', () => {
    expect(entityTag(42)).toBe('"42"');
  });

  describe('If-Match on a write', () => {
    it.each([
      ['"5"', { require: 'modRevision', modRevision: 5 }],
      [' "5" ', { require: 'modRevision', modRevision: 5 }],
      ['"5",', { require: 'modRevision', modRevision: 5 }],
      ['*', { require: 'exists' }],
      // Strong comparison: a weak tag, or one the store never hands out, matches no key.
      ['W/"5"', { require: 'modRevision', modRevision: 0 }],
      ['"05"', { require: 'modRevision', modRevision: 0 }],
      ['"abc"', { require: 'modRevision', modRevision: 0 }],
      ['"0"', { require: 'modRevision', modRevision: 0 }],
      ['"1,2"', { require: 'modRevision', modRevision: 0 }],
    ])('%s', (ifMatch, condition) => {
      expect(putCondition({ ifMatch })).toEqual(condition);
      expect(existingKeyCondition({ ifMatch })).toEqual(condition);
    });

    it.each(['', '5', '"5', '5"', '"5"x', 'W/5', "'5'", '"a b"', '**', ', ,', 'w/"5"'])(
      'refuses the malformed %j',
      (ifMatch) => {
        expect(() => putCondition({ ifMatch })).toThrow(
          new InvalidArgumentError('If-Match must be * or entity-tags in quotes, such as "3"'),
        );
      },
    );

    it('refuses a list: a key has one revision', () => {
      expect(() => putCondition({ ifMatch: '"3", "5"' })).toThrow(
        'If-Match takes one entity-tag, such as "3": a key has one revision',
      );
    });

    it('leaves a write without headers unconditional', () => {
      expect(putCondition({})).toBeUndefined();
      expect(existingKeyCondition({})).toBeUndefined();
    });
  });

  describe('If-None-Match on a write', () => {
    it('* on PUT creates only', () => {
      expect(putCondition({ ifNoneMatch: '*' })).toEqual({ require: 'absent' });
    });

    it.each([
      [{ ifNoneMatch: '"3"' }, 'If-None-Match on PUT must be * (create only)'],
      [{ ifNoneMatch: '*', ifMatch: '"3"' }, 'Send If-Match or If-None-Match, not both'],
      [{ ifNoneMatch: '3' }, 'If-None-Match must be * or entity-tags in quotes, such as "3"'],
    ])('refuses %j on PUT', (preconditions, message) => {
      expect(() => putCondition(preconditions)).toThrow(message);
    });

    it('is refused on DELETE and PUT /ttl', () => {
      expect(() => existingKeyCondition({ ifNoneMatch: '*' })).toThrow(
        'If-None-Match is only supported on GET, and on PUT as *',
      );
    });
  });

  describe('If-None-Match on GET', () => {
    it.each([
      ['"5"', 5, true],
      ['"4"', 5, false],
      ['W/"5"', 5, true],
      ['"3", W/"5"', 5, true],
      ['"3", "4"', 5, false],
      ['*', 5, true],
    ])('%s against revision %d: not modified = %s', (ifNoneMatch, modRevision, expected) => {
      expect(notModifiedCheck({ ifNoneMatch })(modRevision)).toBe(expected);
    });

    it('is checked before the read, so a malformed header is a 400 even for a missing key', () => {
      expect(() => notModifiedCheck({ ifNoneMatch: '5' })).toThrow(InvalidArgumentError);
    });

    it('refuses If-Match on GET rather than ignoring it', () => {
      expect(() => notModifiedCheck({ ifMatch: '"5"' })).toThrow(
        'If-Match is only supported on PUT and DELETE',
      );
    });

    it('without the header, never answers 304', () => {
      expect(notModifiedCheck({})(5)).toBe(false);
    });
  });
});
