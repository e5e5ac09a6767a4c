import fc from 'fast-check';
import { InvalidJsonError } from '../kv/kv.errors';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body';

const parse = (text: string) => parseJsonBody(Buffer.from(text));

/** What parseJsonBody refused `text` with: the reason and pointer of the error answer. */
function refusal(text: string): { reason?: string; pointer?: string } {
  try {
    parse(text);
  } catch (error) {
    if (!(error instanceof InvalidJsonError)) throw error;
    return { reason: error.reason, pointer: error.pointer };
  }
  throw new Error(`${text} was accepted`);
}

const inexact = (becomes: string) =>
  `Number cannot be stored exactly as a 64-bit float: it would become ${becomes}`;
const OUT_OF_RANGE = 'Number is out of the range of a 64-bit float';
const DUPLICATE = 'Duplicate member name';

describe('parseJsonBody', () => {
  it.each([
    ['a document', '{ "a" : [1, 2.5e3, true, false, null] }', '{"a":[1,2500,true,false,null]}'],
    ['an exponent inside a string', '"1e400 is text"', '"1e400 is text"'],
    ['a 301-digit integer that is a float', '1' + '0'.repeat(300), '1e+300'],
    ['true beside an exponent', '{"flag":true,"n":1E2}', '{"flag":true,"n":100}'],
    ['escaped quotes', '"\\u0065\\"e"', '"e\\"e"'],
    [
      'the same name in two objects',
      '[{"a":1},{"a":2,"b":{"a":3}}]',
      '[{"a":1},{"a":2,"b":{"a":3}}]',
    ],
  ])('stores %s in canonical form', (_label, text, canonical) => {
    expect(parse(text)).toBe(canonical);
  });

  it.each([
    ['0.1', '0.1'],
    ['1.0', '1'],
    ['1e2', '100'],
    ['1E+2', '100'],
    ['-0', '0'],
    ['-0.0e-5', '0'],
    ['1e007', '10000000'],
    ['0.30000000000000004', '0.30000000000000004'],
    ['3.141592653589793', '3.141592653589793'],
    ['9007199254740992', '9007199254740992'],
    ['12345678901234567000', '12345678901234567000'],
    ['100000000000000000000000', '1e+23'],
    ['1.7976931348623157e308', '1.7976931348623157e+308'],
    ['5e-324', '5e-324'],
    ['0.000000000000000000001', '1e-21'],
  ])('keeps the value of %s, stored as %s', (text, stored) => {
    expect(parse(text)).toBe(stored);
  });

  it('refuses the values the load test found changed, naming the first problem', () => {
    const text = '{"id":12345678901234567890,"n":9007199254740993,"d":{"a":1,"a":2}}';
    expect(refusal(text)).toEqual({ reason: inexact('12345678901234567000'), pointer: '/id' });
    expect(refusal('{"n":9007199254740993,"d":{"a":1,"a":2}}')).toEqual({
      reason: inexact('9007199254740992'),
      pointer: '/n',
    });
    expect(refusal('{"d":{"a":1,"a":2}}')).toEqual({ reason: DUPLICATE, pointer: '/d/a' });
  });

  it.each([
    ['2^53 + 1', '9007199254740993', inexact('9007199254740992'), ''],
    [
      'the exact value of the float nearest to 0.1',
      '0.1000000000000000055511151231257827',
      inexact('0.1'),
      '',
    ],
    ['a fraction that underflows', `0.${'0'.repeat(400)}1`, inexact('0'), ''],
    ['an exponent that underflows', '[1, 1e-400]', inexact('0'), '/1'],
    ['an exponent too large', '1e400', OUT_OF_RANGE, ''],
    ['a negative one', '-1E999', OUT_OF_RANGE, ''],
    ['an exponent after a fraction', '[0.5e400]', OUT_OF_RANGE, '/0'],
    ['a signed exponent', '{"n":1.5E+400}', OUT_OF_RANGE, '/n'],
    ['one deep inside, after true', '{"a":true,"b":[1,{"c":1e309}]}', OUT_OF_RANGE, '/b/1/c'],
    ['a 310-digit integer', '1' + '0'.repeat(309), OUT_OF_RANGE, ''],
    ['a 400-digit integer in an array', '[' + '9'.repeat(400) + ']', OUT_OF_RANGE, '/0'],
    [
      '18 digits, spaced out',
      '{ "a/b~c" :\n [ 0 , 123456789012345678 ] }',
      inexact('123456789012345680'),
      '/a~1b~0c/1',
    ],
  ])('refuses %s, which would not survive as a number', (_label, text, reason, pointer) => {
    expect(refusal(text)).toEqual({ reason, pointer });
  });

  it.each([
    ['the same value twice', '{"a":1,"a":1}', '/a'],
    ['a name spelt with an escape', '{"a":1,"\\u0061":2}', '/a'],
    ['__proto__', '{"__proto__":{},"__proto__":[]}', '/__proto__'],
    ['a repeat after empty containers', '{"a":{},"b":[],"a":3}', '/a'],
    ['deep inside an array', '[[], {"x": [1, {"b": 2, "c": 3, "b": 4}]}]', '/1/x/1/b'],
    ['inside a value that repeats later', '{"a":{"x":1,"x":2},"a":3}', '/a/x'],
  ])('refuses a repeated member name: %s', (_label, text, pointer) => {
    expect(refusal(text)).toEqual({ reason: DUPLICATE, pointer });
  });

  it('leaves out a pointer too long to echo', () => {
    expect(refusal(`{"${'k'.repeat(300)}":1e400}`)).toEqual({
      reason: OUT_OF_RANGE,
      pointer: undefined,
    });
  });

  it('refuses documents nested deeper than the limit, but not at it', () => {
    expect(refusal('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))).toEqual({});
    expect(parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBe(
      '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH),
    );
  });

  it.each([[''], ['{"a":'], ['\xff'], ['{"a":1,"a"}'], ['[1,]'], ['01'], ['1.'], ['-']])(
    'refuses %j, which is not JSON, without a reason',
    (text) => {
      let thrown: unknown;
      try {
        parseJsonBody(Buffer.from(text, 'latin1'));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidJsonError);
      expect(thrown).toMatchObject({ reason: undefined, pointer: undefined });
    },
  );

  describe('properties', () => {
    it('keeps the exact text of every value that JSON.stringify writes', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const text = JSON.stringify(value);
          expect(parse(text)).toBe(text);
        }),
        { numRuns: 500 },
      );
    });

    it('refuses every object written with a repeated member name, naming the first', () => {
      const membersArb = fc
        .array(fc.tuple(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), {
          minLength: 1,
          maxLength: 6,
        })
        .chain((members) =>
          fc
            .tuple(
              fc.nat(members.length - 1),
              fc.nat(members.length),
              fc.jsonValue({ maxDepth: 1 }),
            )
            .map(([from, at, value]) => {
              const repeated = members[from][0];
              return { repeated, members: members.toSpliced(at, 0, [repeated, value]) };
            }),
        );
      fc.assert(
        fc.property(membersArb, ({ members }) => {
          const text = `{${members.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
          const seen = new Set<string>();
          const first = members.find(([name]) => seen.has(name) || !seen.add(name))![0];
          expect(refusal(text)).toEqual({ reason: DUPLICATE, pointer: `/${escapeSegment(first)}` });
        }),
        { numRuns: 500 },
      );
    });

    it('stores every number with the value written, or refuses the document', () => {
      fc.assert(
        fc.property(documentArb, (document) => {
          const text = render(document);
          const problem = firstProblem(document, '');
          let stored: string;
          try {
            stored = parse(text);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidJsonError);
            expect(problem).toBeDefined();
            expect(error).toMatchObject(problem!);
            return;
          }
          expect(problem).toBeUndefined();
          expectSameValue(JSON.parse(stored), document);
        }),
        { numRuns: 1000 },
      );
    });
  });
});

/** A JSON document as written: numbers keep their literal, objects their members in order. */
type Document =
  | { readonly kind: 'number'; readonly literal: string }
  | { readonly kind: 'scalar'; readonly value: string | boolean | null }
  | { readonly kind: 'array'; readonly items: readonly Document[] }
  | { readonly kind: 'object'; readonly members: ReadonlyArray<readonly [string, Document]> };

const digitsArb = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

/** JSON's number grammar, with the lengths where floats start to lose digits. */
const literalArb = fc
  .record({
    sign: fc.constantFrom('', '-'),
    integer: fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...'123456789'), digitsArb(0, 24)),
    ),
    fraction: fc.option(digitsArb(1, 24), { nil: undefined }),
    exponent: fc.option(
      fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digitsArb(1, 3)),
      { nil: undefined },
    ),
  })
  .map(({ sign, integer, fraction, exponent }) => {
    const whole = typeof integer === 'string' ? integer : integer.join('');
    return `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent?.join('') ?? ''}`;
  });

/** Few distinct names, so that objects often repeat one; `/` and `~` need escaping in pointers. */
const nameArb = fc.constantFrom('a', 'b', 'a/b', '~', '1', '__proto__');

const documentArb: fc.Arbitrary<Document> = fc.letrec<{ document: Document }>((tie) => ({
  document: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literalArb.map((literal) => ({ kind: 'number' as const, literal })),
    fc
      .oneof(fc.string(), fc.boolean(), fc.constant(null))
      .map((value) => ({ kind: 'scalar' as const, value })),
    fc.array(tie('document'), { maxLength: 4 }).map((items) => ({ kind: 'array' as const, items })),
    fc
      .array(fc.tuple(nameArb, tie('document')), { maxLength: 4 })
      .map((members) => ({ kind: 'object' as const, members })),
  ),
})).document;

/** The document's text, with whitespace of three kinds, in turn, between its tokens. */
function render(document: Document): string {
  let turn = 0;
  const space = () => ['', ' ', '\n  '][turn++ % 3];
  const write = (node: Document): string => {
    switch (node.kind) {
      case 'number':
        return node.literal;
      case 'scalar':
        return JSON.stringify(node.value);
      case 'array':
        return `[${space()}${node.items.map((item) => write(item)).join(`,${space()}`)}]`;
      case 'object':
        return `{${node.members
          .map(([name, value]) => `${space()}${JSON.stringify(name)}${space()}:${write(value)}`)
          .join(',')}}`;
    }
  };
  return write(document);
}

const escapeSegment = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The refusal expected, by a reference written apart from the module: numbers are checked
 * first, in document order, with exact rational arithmetic on BigInts; then repeated names.
 */
function firstProblem(document: Document, pointer: string): Problem {
  return firstInexactNumber(document, pointer) ?? firstRepeatedName(document, pointer);
}

type Problem = { reason: string; pointer: string } | undefined;

function firstInexactNumber(node: Document, pointer: string): Problem {
  if (node.kind === 'number') {
    const float = Number(node.literal);
    if (!Number.isFinite(float)) return { reason: OUT_OF_RANGE, pointer };
    if (!sameDecimal(String(float), node.literal))
      return { reason: inexact(String(float)), pointer };
    return undefined;
  }
  const children: Array<[string, Document]> =
    node.kind === 'array'
      ? node.items.map((item, index) => [String(index), item])
      : node.kind === 'object'
        ? node.members.map(([name, value]) => [escapeSegment(name), value])
        : [];
  for (const [segment, child] of children) {
    const found = firstInexactNumber(child, `${pointer}/${segment}`);
    if (found) return found;
  }
  return undefined;
}

function firstRepeatedName(node: Document, pointer: string): Problem {
  if (node.kind === 'array') {
    for (const [index, item] of node.items.entries()) {
      const found = firstRepeatedName(item, `${pointer}/${index}`);
      if (found) return found;
    }
  }
  if (node.kind === 'object') {
    const seen = new Set<string>();
    for (const [name, value] of node.members) {
      const at = `${pointer}/${escapeSegment(name)}`;
      if (seen.has(name)) return { reason: DUPLICATE, pointer: at };
      seen.add(name);
      const found = firstRepeatedName(value, at);
      if (found) return found;
    }
  }
  return undefined;
}

/** Exact decimal equality: both sides as integer × 10^exponent, scaled to one exponent. */
function sameDecimal(a: string, b: string): boolean {
  const [x, y] = [rational(a), rational(b)];
  const exponent = Math.min(x.exponent, y.exponent);
  const scale = (r: { digits: bigint; exponent: number }) =>
    r.digits * 10n ** BigInt(r.exponent - exponent);
  return scale(x) === scale(y);
}

function rational(literal: string): { digits: bigint; exponent: number } {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  const digits = BigInt(`${sign}${whole}${fraction}`);
  return { digits, exponent: Number(exponent) - fraction.length };
}

/** The stored value, parsed again, against the document: every number equal as a decimal. */
function expectSameValue(stored: unknown, document: Document): void {
  switch (document.kind) {
    case 'number':
      expect(typeof stored).toBe('number');
      expect(sameDecimal(String(stored), document.literal)).toBe(true);
      return;
    case 'scalar':
      expect(stored).toEqual(document.value);
      return;
    case 'array':
      expect(Array.isArray(stored)).toBe(true);
      expect((stored as unknown[]).length).toBe(document.items.length);
      document.items.forEach((item, index) => expectSameValue((stored as unknown[])[index], item));
      return;
    case 'object': {
      const object = stored as Record<string, unknown>;
      expect(Object.keys(object).sort()).toEqual(document.members.map(([name]) => name).sort());
      for (const [name, value] of document.members) expectSameValue(object[name], value);
    }
  }
}
