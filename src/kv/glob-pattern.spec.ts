import fc from 'fast-check';
import { GlobPattern, InvalidPatternError } from './glob-pattern';

const matches = (pattern: string, key: string): boolean =>
  GlobPattern.compile(pattern).matches(key);

/** Escapes every metacharacter, so the result matches `text` and nothing else. */
const escape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Reference matcher: direct recursive backtracking over the pattern's code points, written
 * independently of the module. Memoized on (pattern index, key index) only so that a few stars
 * against a key of dozens of characters stay fast. Returns 'invalid' for a malformed pattern,
 * whatever the key.
 */
function reference(pattern: string, key: string): boolean | 'invalid' {
  const p = Array.from(pattern);
  const k = Array.from(key);
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === '[') {
      const parsed = referenceClass(p, i);
      if (parsed === undefined) return 'invalid';
      i = parsed.end - 1;
    }
  }
  const memo = new Map<number, boolean>();
  const go = (pi: number, ki: number): boolean => {
    const id = pi * (k.length + 1) + ki;
    let result = memo.get(id);
    if (result === undefined) {
      result = step(pi, ki);
      memo.set(id, result);
    }
    return result;
  };
  const step = (pi: number, ki: number): boolean => {
    if (pi === p.length) return ki === k.length;
    if (p[pi] === '*') return go(pi + 1, ki) || (ki < k.length && go(pi, ki + 1));
    if (ki === k.length) return false;
    if (p[pi] === '?') return go(pi + 1, ki + 1);
    if (p[pi] === '[') {
      const parsed = referenceClass(p, pi)!;
      return parsed.test(k[ki]) && go(parsed.end, ki + 1);
    }
    if (p[pi] === '\\' && pi + 1 < p.length) return k[ki] === p[pi + 1] && go(pi + 2, ki + 1);
    return k[ki] === p[pi] && go(pi + 1, ki + 1);
  };
  return go(0, 0);
}

function referenceClass(
  p: string[],
  open: number,
): { end: number; test: (char: string) => boolean } | undefined {
  let i = open + 1;
  const negated = p[i] === '^';
  if (negated) i++;
  // Members with escapes resolved; only an unescaped '-' between two members makes a range.
  const items: Array<{ char: string; escaped: boolean }> = [];
  for (;;) {
    if (i >= p.length) return undefined;
    if (p[i] === ']') break;
    if (p[i] === '\\') {
      if (i + 1 >= p.length) return undefined;
      items.push({ char: p[i + 1], escaped: true });
      i += 2;
    } else {
      items.push({ char: p[i], escaped: false });
      i++;
    }
  }
  const cp = (char: string): number => char.codePointAt(0)!;
  const test = (char: string): boolean => {
    const c = cp(char);
    let hit = false;
    for (let j = 0; j < items.length; j++) {
      if (j + 2 < items.length && items[j + 1].char === '-' && !items[j + 1].escaped) {
        const [a, b] = [cp(items[j].char), cp(items[j + 2].char)];
        if (c >= Math.min(a, b) && c <= Math.max(a, b)) hit = true;
        j += 2;
      } else if (cp(items[j].char) === c) {
        hit = true;
      }
    }
    return hit !== negated;
  };
  return { end: i + 1, test };
}

function compileOrInvalid(pattern: string, key: string): boolean | 'invalid' {
  try {
    return GlobPattern.compile(pattern).matches(key);
  } catch (error) {
    if (error instanceof InvalidPatternError) return 'invalid';
    throw error;
  }
}

describe('GlobPattern', () => {
  describe('matches Redis KEYS semantics', () => {
    // [pattern, key, expected]. The first groups come from the Redis KEYS documentation and
    // tests/unit/keyspace.tcl; the rest pin down stringmatchlen's behaviour on edge cases.
    const cases: Array<[string, string, boolean]> = [
      // KEYS documentation
      ['h?llo', 'hello', true],
      ['h?llo', 'hallo', true],
      ['h?llo', 'hxllo', true],
      ['h?llo', 'hllo', false],
      ['h?llo', 'heello', false],
      ['h*llo', 'hllo', true],
      ['h*llo', 'heeeello', true],
      ['h*llo', 'hellox', false],
      ['h[ae]llo', 'hello', true],
      ['h[ae]llo', 'hallo', true],
      ['h[ae]llo', 'hillo', false],
      ['h[^e]llo', 'hallo', true],
      ['h[^e]llo', 'hbllo', true],
      ['h[^e]llo', 'hello', false],
      ['h[^e]llo', 'hllo', false],
      ['h[a-b]llo', 'hallo', true],
      ['h[a-b]llo', 'hbllo', true],
      ['h[a-b]llo', 'hcllo', false],
      // keyspace.tcl
      ['foo*', 'foo_a', true],
      ['foo*', 'key_x', false],
      ['*', 'dlskeriewrioeuwqoirueioqwrueoqwrueqw', true],
      ['{a}*', '{a}x', true],
      ['{a}*', '{b}a', false],
      ['*{b}*', '{b}c', true],
      ['*{b}*', '{a}b', false],
      ['a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(40), false],
      // Plain literals and the empty pattern
      ['', '', true],
      ['', 'a', false],
      ['abc', 'abc', true],
      ['abc', 'abcd', false],
      ['abc', 'ab', false],
      ['abc', 'ABC', false],
      // '*': any run, also empty, also across '/'
      ['*', '', true], // current Redis says false: a bug, redis/redis#15643
      ['*', 'a/b/c', true],
      ['**', '', true],
      ['a*', '', false],
      ['*a', '', false],
      ['a**b', 'ab', true],
      ['a**b', 'axyb', true],
      ['*a', 'a', true],
      ['*a', 'ba', true],
      ['*a', 'ab', false],
      ['a*', 'a', true],
      ['a*', 'ba', false],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'abcc', true],
      ['a*b*c', 'acb', false],
      ['a*b*c', 'abcb', false],
      ['user:*:name', 'user:42:name', true],
      ['user:*:name', 'user:a/b:name', true],
      ['user:*:name', 'user::name', true],
      ['user:*:name', 'user:42:names', false],
      ['*/*', 'a/b', true],
      ['*/*', 'ab', false],
      // '?': exactly one character
      ['?', '', false],
      ['?', 'a', true],
      ['?', 'ab', false],
      ['??', 'a', false],
      ['a?c', 'ac', false],
      ['*?', '', false],
      ['*?', 'a', true],
      ['?*?', 'ab', true],
      ['?*?', 'a', false],
      // Classes and ranges
      ['[abc]', 'b', true],
      ['[abc]', 'd', false],
      ['[abc]', '', false],
      ['[abc]', 'ab', false],
      ['[a-c]', 'a', true],
      ['[a-c]', 'c', true],
      ['[a-c]', 'd', false],
      ['[z-a]', 'm', true], // reversed ranges are swapped, as in Redis
      ['[z-a]', 'A', false],
      ['[^a]', 'a', false],
      ['[^a]', 'b', true],
      ['[^a]', '', false],
      ['[^a-c]', 'b', false],
      ['[^a-c]', 'd', true],
      ['[a-c-e]', 'd', false],
      ['[a-c-e]', '-', true],
      ['[a-c-e]', 'e', true],
      ['[--a]', '0', true], // range from '-' to 'a'
      ['[*?]', '*', true], // metacharacters are literal inside a class
      ['[*?]', 'a', false],
      ['[[]', '[', true],
      ['[a^]', '^', true], // '^' negates only right after '['
      ['[^^]', '^', false],
      ['[^^]', 'a', true],
      // A '-' first or last is literal (Redis would read '[a-]' as a range up to ']')
      ['[a-]', 'a', true],
      ['[a-]', '-', true],
      ['[a-]', 'b', false],
      ['[a-]', ']', false],
      ['[-a]', '-', true],
      ['[-a]', 'a', true],
      ['[-]', '-', true],
      // ']' always closes, as in Redis: '[]' is empty, '[^]' is any character
      ['[]', '', false],
      ['[]', ']', false],
      ['[]', 'a', false],
      ['[]a]', 'a]', false],
      ['[]a]', ']', false],
      ['[]a]', 'a', false],
      ['[^]', 'a', true],
      ['[^]', ']', true],
      ['[^]', '', false],
      ['[^]', 'ab', false],
      ['x[^]y', 'x]y', true],
      [']', ']', true],
      ['a]', 'a]', true],
      // Escapes, inside and outside classes
      ['\\*', '*', true],
      ['\\*', 'a', false],
      ['\\?', '?', true],
      ['\\?', 'a', false],
      ['\\[', '[', true],
      ['\\]', ']', true],
      ['\\\\', '\\', true],
      ['\\a', 'a', true],
      ['foo\\*', 'foo*', true],
      ['foo\\*', 'foobar', false],
      ['foo\\\\*', 'foo\\bar', true],
      ['foo\\\\*', 'foobar', false],
      ['a\\', 'a\\', true], // a trailing backslash is literal, as in Redis
      ['a\\', 'a', false],
      ['\\', '\\', true],
      ['[\\]]', ']', true],
      ['[\\]a]', ']', true],
      ['[\\]a]', 'a', true],
      ['[\\\\]', '\\', true],
      ['[\\^a]', '^', true],
      ['[\\^a]', 'b', false],
      ['[a\\-z]', '-', true], // an escaped '-' is a member, not a range
      ['[a\\-z]', 'm', false],
      ['[\\]-a]', '^', true], // an escaped character can be a range endpoint: ']'..'a'
      ['[\\]-a]', 'b', false],
      ['[a-\\]]', '^', true], // and the range's end: 'a'..']'
      ['[a-\\]]', '\\]', false],
      ['[\\*-c]', '\\', true],
      // Unicode: one code point is one character
      ['?', '😀', true],
      ['??', '😀', false],
      ['a?b', 'a😀b', true],
      ['*😀', 'x😀', true],
      ['😀*', '😀x', true],
      ['[😀-😂]', '😁', true],
      ['[😀-😂]', 'a', false],
      ['[^😀]', '😀', false],
      ['[^😀]', '😁', true],
      ['[a-😀]', 'é', true],
      ['?', 'e\u0301', false], // code points, not grapheme clusters
      ['??', 'e\u0301', true],
      ['\uD83D*', '😀', false], // a lone surrogate is not half of a pair
      ['\uD83D*', '\uD83Dx', true],
      ['?', '\uD83D', true],
      ['\uD83D\\\uDE00', '😀', false], // two lone halves kept apart are not one emoji
      ['\uD83D\\\uDE00*', '😀x', false],
    ];

    it.each(cases)('%j against %j is %p', (pattern, key, expected) => {
      expect(matches(pattern, key)).toBe(expected);
    });

    it('agrees with the reference matcher on every table case', () => {
      for (const [pattern, key, expected] of cases) {
        expect([pattern, key, reference(pattern, key)]).toEqual([pattern, key, expected]);
      }
    });
  });

  describe('rejects malformed patterns', () => {
    it.each([
      ['[', 0],
      ['abc[', 3],
      ['a[bc', 1],
      ['[^', 0],
      ['[a-', 0],
      ['[\\]', 0], // an escaped ']' does not close
      ['[a\\', 0],
      ['x[]][', 4],
      ['😀[', 1], // positions count characters, not UTF-16 units
    ])('%j: unclosed bracket at %p', (pattern, position) => {
      const compile = () => GlobPattern.compile(pattern);
      expect(compile).toThrow(InvalidPatternError);
      expect(compile).toThrow(`Invalid pattern: unclosed '[' at position ${position}`);
    });

    it('throws an Error named InvalidPatternError', () => {
      let thrown: unknown;
      try {
        GlobPattern.compile('[a');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect((thrown as Error).name).toBe('InvalidPatternError');
    });
  });

  describe('reports its search cost: steps per key character at most', () => {
    it.each([
      ['exact', 1],
      ['prefix*', 1],
      ['*' + 'a'.repeat(300) + 'b', 1],
      ['a*b*c' + 'x'.repeat(100), 1],
      ['?'.repeat(500), 1],
      ['[abc]'.repeat(50) + '*', 1],
      ['*?', 1],
      ['*a?c', 3],
      ['*[a-z0-9_]x*??', 4],
      ['*' + '?'.repeat(40) + '*a', 40],
      ['x*[abcdef]?*', 7],
    ])('%j costs %d', (pattern, cost) => {
      expect(GlobPattern.compile(pattern).searchCost).toBe(cost);
    });
  });

  it('matches runs of literals between stars at their leftmost place', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*ab*ab', 'abab', true],
      ['ab*ab', 'ab', false],
      ['ab*ba', 'aba', false],
      ['ab*ba', 'abba', true],
      ['*a*a*', 'a', false],
      ['*a*a*', 'aa', true],
      ['a*b*c', 'a_c_b_c', true],
      ['a*b*c', 'a_c_c', false],
      ['*', '', true],
      ['**x', 'x', true],
      ['*😀*', 'a😀b', true],
    ];
    for (const [pattern, key, expected] of cases) {
      expect({ pattern, key, match: matches(pattern, key) }).toEqual({
        pattern,
        key,
        match: expected,
      });
      expect(reference(pattern, key)).toBe(expected);
    }
  });

  it('keeps the source pattern', () => {
    expect(GlobPattern.compile('user:*').source).toBe('user:*');
  });

  describe('runs in linear time on abusive patterns', () => {
    // Assert results only: a backtracking matcher would not finish these within the test timeout.
    const longKey = 'a'.repeat(10_000);
    const manyStars = '*a'.repeat(100) + '*b';

    it('100 star segments against a 10,000-character key that fails at the end', () => {
      expect(matches(manyStars, longKey)).toBe(false);
    });

    it('100 star segments against a 10,000-character key that matches', () => {
      expect(matches(manyStars, longKey + 'b')).toBe(true);
      expect(matches('*a'.repeat(100), longKey)).toBe(true);
    });

    it('classes and ? between stars', () => {
      expect(matches('*[a]?'.repeat(100) + '*[b]', longKey)).toBe(false);
      expect(matches('*[^b]?'.repeat(100) + '*', longKey)).toBe(true);
    });

    it('50,000 nested stars (Redis gives up on these and wrongly reports no match)', () => {
      expect(matches('*?'.repeat(50_000), 'a'.repeat(50_000))).toBe(true);
      expect(matches('*?'.repeat(50_000), 'a'.repeat(49_999))).toBe(false);
    });
  });

  describe('properties', () => {
    // A small alphabet heavy in metacharacters, plus an emoji and lone surrogate halves, which
    // join into one character when adjacent.
    const patternUnit = fc.constantFrom(
      'a',
      'b',
      '-',
      '*',
      '?',
      '[',
      ']',
      '^',
      '\\',
      '😀',
      '\uD83D',
      '\uDE00',
    );
    const keyUnit = fc.constantFrom('a', 'b', '-', ']', '^', '\\', '😀', '\uD83D', '\uDE00');
    const patterns = fc.string({ unit: patternUnit, maxLength: 10 });
    const keys = fc.string({ unit: keyUnit, maxLength: 10 });

    it('agrees with the reference matcher, including on which patterns are malformed', () => {
      fc.assert(
        fc.property(patterns, keys, (pattern, key) => {
          expect(compileOrInvalid(pattern, key)).toBe(reference(pattern, key));
        }),
        { numRuns: 10_000 },
      );
    });

    it('agrees with the reference on keys built to match', () => {
      // Random keys rarely match random patterns; derive keys from the pattern instead, by
      // turning each metacharacter into something that tends to satisfy it.
      const derivedKey = fc
        .tuple(
          patterns,
          fc.array(fc.string({ unit: keyUnit, maxLength: 4 }), { minLength: 10, maxLength: 10 }),
        )
        .map(([pattern, fillers]) => {
          const key = Array.from(pattern.replace(/[[\]^\\]/g, ''))
            .map((char, i) => (char === '*' ? fillers[i] : char === '?' ? 'a' : char))
            .join('');
          return [pattern, key] as const;
        });
      fc.assert(
        fc.property(derivedKey, ([pattern, key]) => {
          expect(compileOrInvalid(pattern, key)).toBe(reference(pattern, key));
        }),
        { numRuns: 10_000 },
      );
    });

    it('an escaped string matches exactly itself', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (text, other) => {
          const pattern = GlobPattern.compile(escape(text));
          expect(pattern.matches(text)).toBe(true);
          expect(pattern.matches(other)).toBe(other === text);
        }),
      );
    });

    it('an escaped prefix followed by * matches every extension of it', () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'grapheme' }),
          fc.string({ unit: 'grapheme' }),
          (prefix, rest) => {
            expect(GlobPattern.compile(escape(prefix) + '*').matches(prefix + rest)).toBe(true);
          },
        ),
      );
    });

    it('n question marks match exactly the keys of n code points', () => {
      fc.assert(
        fc.property(fc.nat(8), fc.string({ unit: 'binary', maxLength: 8 }), (n, key) => {
          expect(GlobPattern.compile('?'.repeat(n)).matches(key)).toBe(
            Array.from(key).length === n,
          );
        }),
      );
    });
  });
});
