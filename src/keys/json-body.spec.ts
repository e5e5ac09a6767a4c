import { InvalidJsonError } from '../kv/kv.errors';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body';

const parse = (text: string) => parseJsonBody(Buffer.from(text));

describe('parseJsonBody', () => {
  it.each([
    ['a document', '{ "a" : [1, 2.5e3, true, false, null] }', '{"a":[1,2500,true,false,null]}'],
    ['an exponent inside a string', '"1e400 is text"', '"1e400 is text"'],
    ['a 400-digit fraction', `0.${'0'.repeat(400)}1`, '0'],
    ['a 301-digit integer that fits', '1' + '0'.repeat(300), '1e+300'],
    ['true beside an exponent', '{"flag":true,"n":1E2}', '{"flag":true,"n":100}'],
    ['escaped quotes', '"\\u0065\\"e"', '"e\\"e"'],
  ])('stores %s in canonical form', (_label, text, canonical) => {
    expect(parse(text)).toBe(canonical);
  });

  it.each([
    ['an exponent too large', '1e400'],
    ['a negative one', '-1E999'],
    ['an exponent after a fraction', '[0.5e400]'],
    ['a signed exponent', '{"n":1.5E+400}'],
    ['one deep inside, after true', '{"a":true,"b":[1,{"c":1e309}]}'],
    ['a 310-digit integer', '1' + '0'.repeat(309)],
    ['a 400-digit integer in an array', '[' + '9'.repeat(400) + ']'],
  ])('refuses %s, which would not survive as a number', (_label, text) => {
    expect(() => parse(text)).toThrow(InvalidJsonError);
  });

  it('refuses documents nested deeper than the limit, but not at it', () => {
    expect(() => parse('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))).toThrow(
      InvalidJsonError,
    );
    expect(parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBe(
      '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH),
    );
  });

  it.each([[''], ['{"a":'], ['\xff']])('refuses %j', (text) => {
    expect(() => parseJsonBody(Buffer.from(text, 'latin1'))).toThrow(InvalidJsonError);
  });
});
