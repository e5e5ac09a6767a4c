import { DtoValidationPipe } from '../../common/pipes/dto-validation.pipe';
import { RequestValidationError } from '../../common/pipes/request-validation.error';
import { InvalidQueryError } from '../../common/query/invalid-query.error';
import { queryReader } from '../../common/query/query-dto';
import { GetKeyQueryDto, PutKeyQueryDto } from './key-query.dto';
import { ListKeysQueryDto } from './list-keys-query.dto';
import { TtlBodyDto } from './ttl-body.dto';

const messageOf = (run: () => unknown) => {
  try {
    return { accepted: { ...(run() as object) } };
  } catch (error) {
    if (error instanceof InvalidQueryError || error instanceof RequestValidationError) {
      return error.message;
    }
    throw error;
  }
};

describe('GetKeyQueryDto', () => {
  it.each([
    ['', undefined],
    ['?meta=true', true],
    ['?meta', true],
    ['?meta=false', false],
    ['?meta=true&_=123', true],
  ])('reads GET /key/k%s', (query, meta) => {
    expect(messageOf(() => queryReader(GetKeyQueryDto)(`/key/k${query}`))).toEqual({
      accepted: { meta },
    });
  });

  it.each([
    ['?meta=yes', 'meta must be true or false'],
    ['?meta=true&meta=true', 'meta must be given once'],
  ])('refuses GET /key/k%s', (query, message) => {
    expect(messageOf(() => queryReader(GetKeyQueryDto)(`/key/k${query}`))).toBe(message);
  });
});

describe('PutKeyQueryDto', () => {
  it.each([
    ['', { ttl: undefined, keepTtl: undefined }],
    ['?ttl=0.5', { ttl: 0.5, keepTtl: undefined }],
    ['?keepTtl=true', { ttl: undefined, keepTtl: true }],
  ])('reads PUT /key/k%s', (query, accepted) => {
    expect(messageOf(() => queryReader(PutKeyQueryDto)(`/key/k${query}`))).toEqual({
      accepted,
    });
  });

  it.each([
    ['?ttl=1e3', 'ttl must be a positive number of seconds'],
    ['?ttl=-1', 'ttl must be a positive number of seconds'],
    ['?ttl=1&ttl=2', 'ttl must be given once'],
    ['?keepTtl=maybe', 'keepTtl must be true or false'],
    ['?TTL=5', 'Unknown query parameter: this route takes only ttl and keepTtl'],
    ['?EX=5', 'Unknown query parameter: this route takes only ttl and keepTtl'],
    ['?ttl=5&_=1', 'Unknown query parameter: this route takes only ttl and keepTtl'],
  ])('refuses PUT /key/k%s', (query, message) => {
    expect(messageOf(() => queryReader(PutKeyQueryDto)(`/key/k${query}`))).toBe(message);
  });
});

describe('ListKeysQueryDto', () => {
  it('reads a pattern, a limit and a cursor, ignoring the rest', () => {
    expect(
      messageOf(() => queryReader(ListKeysQueryDto)('/keys?pattern=a*&limit=5&cursor=c&x=1')),
    ).toEqual({ accepted: { pattern: 'a*', limit: 5, cursor: 'c' } });
  });

  it.each([
    ['?limit=-1', 'limit must be a positive integer'],
    ['?limit=99999999999999999999', 'limit must be a positive integer'],
    ['?pattern=%FF', 'pattern has malformed percent-encoding or is not UTF-8'],
    ['?cursor=a&cursor=b', 'cursor must be given once'],
  ])('refuses GET /keys%s', (query, message) => {
    expect(messageOf(() => queryReader(ListKeysQueryDto)(`/keys${query}`))).toBe(message);
  });
});

describe('TtlBodyDto', () => {
  const pipe = new DtoValidationPipe();
  const validate = (body: unknown) => () =>
    pipe.transform(body, { type: 'body', metatype: TtlBodyDto });

  it('takes a number of seconds or null', () => {
    expect(messageOf(validate({ ttl: 30 }))).toEqual({ accepted: { ttl: 30 } });
    expect(messageOf(validate({ ttl: null }))).toEqual({ accepted: { ttl: null } });
  });

  it.each([
    [{}, 'ttl: must be a number of seconds, or null'],
    [{ ttl: '10' }, 'ttl: must be a number of seconds, or null'],
    [{ ttl: 1, extra: true }, 'extra: property extra should not exist'],
    [[1], 'body: must be a JSON object'],
  ])('refuses %j', (body, message) => {
    expect(messageOf(validate(body))).toBe(message);
  });
});
