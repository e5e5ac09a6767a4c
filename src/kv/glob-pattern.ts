/**
 * Redis-style glob patterns for `GET /keys?pattern=GLOB`.
 *
 * Syntax, matched on Unicode code points (an emoji is one character, so one `?`):
 * - `*` matches any run of characters, including none and including `/`;
 * - `?` matches exactly one character;
 * - `[...]` matches one character from a class: single characters, ranges `a-z`, and a leading
 *   `^` negates the class;
 * - `\` makes the next character literal, outside and inside brackets;
 * - every other character matches itself.
 *
 * Edge cases follow Redis's `stringmatchlen` (src/util.c) where its behaviour is deliberate, and
 * take the clean reading where it is an accident of the C code:
 * - `[` without a closing `]` is rejected with {@link InvalidPatternError}. Redis silently
 *   treats the class as ending at the end of the pattern. `[\]` and `[a\` are unclosed too, since
 *   an escaped `]` does not close.
 * - `]` always closes a class, as in Redis, so `[]` is an empty class that matches nothing,
 *   `[^]` matches any one character, and `[]a]` is an empty class followed by the literal `a]`.
 *   A literal `]` in a class is written `[\]]`. Outside a class, `]` is an ordinary character.
 * - Reversed ranges are swapped, as in Redis: `[z-a]` is `[a-z]`. Ranges compare code points.
 * - A `-` first or last in a class is literal: `[-a]` and `[a-]` both match `a` or `-`. Redis
 *   reads `[a-]` as the range from `a` to `]` and then looks for another `]`: an accident.
 * - `\` escapes any character, so `\a` is `a`, and an escaped character is a literal wherever it
 *   stands, a range endpoint included: `[\]-a]` is the range from `]` to `a`, and `[a-\]]` the
 *   range from `a` to `]`. Redis reads the first as the three members `]`, `-`, `a`, and the
 *   second as a range ending at `\` followed by a literal `]`. An escaped `-` never makes a
 *   range: `[a\-z]` is the three characters `a`, `-` and `z`.
 * - `^` negates only right after `[`; elsewhere it is literal.
 * - A trailing `\` has nothing to escape and matches a literal `\`, as in Redis.
 * - `*` matches the empty key. Redis's current stringmatchlen does not, because it stops as soon
 *   as the key is used up (reported as a bug: redis/redis#15643).
 * - There is no nesting limit: Redis gives up (no match) after 1000 nested stars, so it says that
 *   `*?` repeated 50,000 times does not match 50,000 characters. It does, and here it is found.
 *
 * Matching only ever backs up to the latest `*`, whatever the pattern, and no regular expression
 * is built from user text. A pattern of literals and stars only is matched with the engine's
 * string searches (linear in the key). Any other pattern is matched token by token, and a
 * failure after a star retries the tokens from that star to the next one at the following key
 * position: one key costs at most its length x {@link GlobPattern.searchCost} steps, plus one
 * pass over the tokens before the first star.
 */

export class InvalidPatternError extends Error {
  override readonly name = 'InvalidPatternError';
}

type Token =
  | { kind: 'literal'; char: string }
  | { kind: 'any' }
  | { kind: 'star' }
  | { kind: 'class'; negated: boolean; ranges: ReadonlyArray<readonly [number, number]> };

type LiteralToken = Extract<Token, { kind: 'literal' }>;

export class GlobPattern {
  private constructor(
    readonly source: string,
    private readonly test: (key: string) => boolean,
    /**
     * Steps the matcher may take per key character: the most a retry after a star can cost
     * (the tokens up to the next star, a class counting its members), 1 for patterns matched
     * with string searches or without a star. A caller bounds its work with it.
     */
    readonly searchCost: number,
  ) {}

  static compile(pattern: string): GlobPattern {
    const tokens = parse(pattern);
    // Most listings use a plain key or a `prefix:*` pattern: answer those with native string
    // operations instead of walking the key character by character.
    if (tokens.every(isPlainLiteral)) {
      const literal = joinLiterals(tokens);
      return new GlobPattern(pattern, (key) => key === literal, 1);
    }
    const last = tokens.length - 1;
    const head = tokens.slice(0, last);
    if (tokens[last].kind === 'star' && head.every(isPlainLiteral)) {
      const prefix = joinLiterals(head);
      return new GlobPattern(pattern, (key) => key.startsWith(prefix), 1);
    }
    if (tokens.every((token) => token.kind === 'star' || isPlainLiteral(token))) {
      const segments = literalSegments(tokens);
      return new GlobPattern(pattern, (key) => matchSegments(segments, key), 1);
    }
    return new GlobPattern(pattern, (key) => matchTokens(tokens, key), retryCost(tokens));
  }

  matches(key: string): boolean {
    return this.test(key);
  }
}

function parse(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  let i = 0;
  while (i < chars.length) {
    const char = chars[i];
    if (char === '*') {
      // Consecutive stars mean the same as one; collapsing them keeps the matcher's work down.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
      i++;
    } else if (char === '?') {
      tokens.push({ kind: 'any' });
      i++;
    } else if (char === '[') {
      i = parseClass(chars, i, tokens);
    } else if (char === '\\' && i + 1 < chars.length) {
      tokens.push({ kind: 'literal', char: chars[i + 1] });
      i += 2;
    } else {
      tokens.push({ kind: 'literal', char });
      i++;
    }
  }
  return tokens;
}

/** Parses the class opening at `chars[open]`, appends it to `tokens`, returns the index after it. */
function parseClass(chars: readonly string[], open: number, tokens: Token[]): number {
  let i = open + 1;
  const negated = chars[i] === '^';
  if (negated) i++;
  const ranges: Array<readonly [number, number]> = [];
  const member = (): number => {
    if (chars[i] === '\\') i++;
    if (i >= chars.length) {
      throw new InvalidPatternError(`Invalid pattern: unclosed '[' at position ${open}`);
    }
    return codePoint(chars[i++]);
  };
  for (;;) {
    if (i >= chars.length) {
      throw new InvalidPatternError(`Invalid pattern: unclosed '[' at position ${open}`);
    }
    if (chars[i] === ']') break;
    const low = member();
    // `-` makes a range only between two members: before `]` (or the end) it is literal.
    if (chars[i] === '-' && i + 1 < chars.length && chars[i + 1] !== ']') {
      i++;
      const high = member();
      ranges.push(low <= high ? [low, high] : [high, low]);
    } else {
      ranges.push([low, low]);
    }
  }
  tokens.push({ kind: 'class', negated, ranges });
  return i + 1;
}

/**
 * The classic linear glob matcher. Every token but `*` consumes exactly one character, so when
 * the tokens after the latest star fail, the only useful retry is to let that star swallow one
 * more character: making an earlier star longer could only move the latest star's start to the
 * right, and the latest star can already cover any stretch those choices would. Each retry
 * advances the star's end, and between retries at most one pass over the tokens is made, hence
 * O(key length x token count) and never exponential.
 */
function matchTokens(tokens: readonly Token[], key: string): boolean {
  const chars = Array.from(key);
  let t = 0;
  let k = 0;
  let starToken = -1; // index of the latest star seen, -1 while none
  let starEnd = 0; // key index where that star's run currently ends
  while (k < chars.length) {
    const token = t < tokens.length ? tokens[t] : undefined;
    if (token?.kind === 'star') {
      starToken = t++;
      starEnd = k;
    } else if (token !== undefined && matchesChar(token, chars[k])) {
      t++;
      k++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      k = ++starEnd;
    } else {
      return false;
    }
  }
  // The key is used up: only a (collapsed) trailing star may remain.
  if (t < tokens.length && tokens[t].kind === 'star') t++;
  return t === tokens.length;
}

/** The literal runs between the stars (first and last possibly empty). */
function literalSegments(tokens: readonly Token[]): string[] {
  const segments = [''];
  for (const token of tokens) {
    if (token.kind === 'star') segments.push('');
    else segments[segments.length - 1] += (token as LiteralToken).char;
  }
  return segments;
}

/**
 * `first*middle*...*last`: the first run anchors at the start, the last at the end, and each
 * middle run is taken at its leftmost place after the one before, which leaves the most room
 * for the rest; no later choice can match where the leftmost one fails. Each search starts
 * where the previous run ended, so the key is read a bounded number of times.
 */
function matchSegments(segments: readonly string[], key: string): boolean {
  const first = segments[0];
  const last = segments[segments.length - 1];
  const end = key.length - last.length;
  if (end < first.length || !key.startsWith(first) || !key.endsWith(last)) return false;
  let at = first.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const found = key.indexOf(segments[i], at);
    if (found < 0 || found + segments[i].length > end) return false;
    at = found + segments[i].length;
  }
  return true;
}

/** The costliest run of tokens a retry after a star walks again: see {@link GlobPattern.searchCost}. */
function retryCost(tokens: readonly Token[]): number {
  let worst = 1;
  let run = 0;
  let afterStar = false;
  for (const token of tokens) {
    if (token.kind === 'star') {
      afterStar = true;
      run = 0;
    } else if (afterStar) {
      run += token.kind === 'class' ? Math.max(1, token.ranges.length) : 1;
      worst = Math.max(worst, run);
    }
  }
  return worst;
}

function matchesChar(token: Exclude<Token, { kind: 'star' }>, char: string): boolean {
  switch (token.kind) {
    case 'literal':
      return token.char === char;
    case 'any':
      return true;
    case 'class': {
      const c = codePoint(char);
      return token.ranges.some(([low, high]) => c >= low && c <= high) !== token.negated;
    }
  }
}

/**
 * A literal that can take part in a fast path's string comparison. Lone surrogates cannot: joined
 * into one string, a high and a low one that the pattern kept apart (with a `\` between them)
 * would fuse into a single character, and a trailing high one would match the first half of a
 * surrogate pair in the key. They are left to the general matcher, which compares code points.
 */
function isPlainLiteral(token: Token): token is LiteralToken {
  return token.kind === 'literal' && !/^[\uD800-\uDFFF]$/.test(token.char);
}

function joinLiterals(tokens: readonly LiteralToken[]): string {
  return tokens.map((token) => token.char).join('');
}

/** `char` is one element of `Array.from(string)`, so it is never empty. */
function codePoint(char: string): number {
  return char.codePointAt(0) as number;
}
