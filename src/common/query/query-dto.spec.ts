import { NoQueryParametersDto } from './no-query-parameters.dto';
import { InvalidQueryError } from './invalid-query.error';
import { queryReader } from './query-dto';
import { QueryFlag, QueryInteger, QueryText, RefusesUnknownParameters } from './query-fields';
import { parseQueryString, QueryProblem } from './query-string';

class ReadDto {
  @QueryText()
  name?: string;

  @QueryInteger()
  count?: number;
}

@RefusesUnknownParameters()
class WriteDto {
  @QueryFlag()
  force?: boolean;

  @QueryInteger()
  count?: number;
}

const refusal = (dto: new () => object, url: string) => {
  try {
    queryReader(dto)(url);
  } catch (error) {
    return error instanceof InvalidQueryError ? error.message : error;
  }
  return 'accepted';
};

describe('parseQueryString', () => {
  it('decodes names and values once, + as a space, and has no prototype', () => {
    const { values, hasUndecodableName } = parseQueryString('%70attern=a+b%2B&flag&__proto__=x');
    expect(Object.entries(values)).toEqual([
      ['pattern', 'a b+'],
      ['flag', ''],
      ['__proto__', 'x'],
    ]);
    expect(Object.getPrototypeOf(values)).toBeNull();
    expect(hasUndecodableName).toBe(false);
  });

  it('marks repeated parameters and values that are not UTF-8, and notes names that are not', () => {
    const { values, hasUndecodableName } = parseQueryString('a=1&a=2&b=%FF&%FF=1&&');
    expect(values.a).toEqual(new QueryProblem('repeated'));
    expect(values.b).toEqual(new QueryProblem('undecodable'));
    expect(Object.keys(values)).toEqual(['a', 'b']);
    expect(hasUndecodableName).toBe(true);
  });
});

describe('queryReader', () => {
  it('answers every request without a query with one shared, frozen instance', () => {
    const read = queryReader(ReadDto);
    const plain = read('/key/a');
    expect(plain).toBeInstanceOf(ReadDto);
    expect(read('/key/b?')).toBe(plain);
    expect(Object.isFrozen(plain)).toBe(true);
    expect({ ...plain }).toEqual({ name: undefined, count: undefined });
  });

  it('converts each field from its text', () => {
    const dto = queryReader(ReadDto)('/r?count=12&name=x%20y');
    expect(dto).toBeInstanceOf(ReadDto);
    expect({ ...dto }).toEqual({ name: 'x y', count: 12 });
    expect({ ...queryReader(WriteDto)('/w?force') }).toMatchObject({ force: true });
    expect({ ...queryReader(WriteDto)('/w?force=false') }).toMatchObject({ force: false });
  });

  it.each([
    ['/r?count=1.5', 'count must be a positive integer'],
    ['/r?count=', 'count must be a positive integer'],
    ['/r?count=0x10', 'count must be a positive integer'],
    ['/r?count=1&count=1', 'count must be given once'],
    ['/r?name=%FF', 'name has malformed percent-encoding or is not UTF-8'],
    ['/r?name=a&name=b', 'name must be given once'],
  ])('refuses %s naming the parameter', (url, message) => {
    expect(refusal(ReadDto, url)).toBe(message);
  });

  it('lets a read ignore parameters it does not know, cache busters and odd names included', () => {
    for (const url of ['/r?_=1700000000', '/r?%FF=1', '/r?COUNT=x', '/r?count[]=x&=&x']) {
      expect({ url, dto: { ...queryReader(ReadDto)(url) } }).toEqual({
        url,
        dto: { name: undefined, count: undefined },
      });
    }
  });

  it.each(['/w?Force=true', '/w?EX=5', '/w?force=true&_=1', '/w?%FF=1', '/w?=1', '/w?force[]=1'])(
    'has a write refuse %s, naming the parameters it knows (and echoing nothing)',
    (url) => {
      expect(refusal(WriteDto, url)).toBe(
        'Unknown query parameter: this route takes only force and count',
      );
    },
  );

  it('has a write without parameters refuse any', () => {
    expect(refusal(NoQueryParametersDto, '/w?x=1')).toBe(
      'Unknown query parameter: this route takes none',
    );
    expect(queryReader(NoQueryParametersDto)('/w')).toBeInstanceOf(NoQueryParametersDto);
    expect(queryReader(NoQueryParametersDto)('/w?&&')).toBeInstanceOf(NoQueryParametersDto);
  });
});
