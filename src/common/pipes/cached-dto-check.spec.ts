import fc from 'fast-check';
import { validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { TtlBodyDto } from '../../keys/dto/ttl-body.dto';
import { toTxnRequestDto } from '../../txn/txn-body.decorator';
import { passesDtoRules } from './cached-dto-check';

const OPTIONS = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };
const validates = (instance: object) => validateSync(instance, OPTIONS).length === 0;

/** Members of every kind a client could send, right or wrong, for each field. */
const anything = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 30, '', 'a', '3', [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);
const key = fc.oneof(fc.constantFrom('a', 'b', ''), anything);
const revision = fc.oneof(fc.constantFrom(0, 1, 41, -1, 1.5, '1'), anything);
const compare = fc.record(
  {
    key,
    modRevision: revision,
    createRevision: revision,
    version: revision,
    exists: fc.oneof(fc.boolean(), anything),
    value: fc.jsonValue({ maxDepth: 2 }),
    extra: anything,
  },
  { requiredKeys: [] },
);
const op = fc.record(
  {
    op: fc.oneof(fc.constantFrom('put', 'delete', 'get', 'incr'), anything),
    key,
    value: fc.jsonValue({ maxDepth: 2 }),
    ttl: fc.oneof(fc.constantFrom(30, 0.5, -1), anything),
    keepTtl: fc.oneof(fc.boolean(), anything),
    meta: fc.oneof(fc.boolean(), anything),
    extra: anything,
  },
  { requiredKeys: ['op', 'key'] },
);
/** Mostly well-formed entries, so that both answers are common. */
const entries = <T>(entry: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(entry, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(anything, fc.array(entry, { maxLength: 1 }))) },
    { weight: 1, arbitrary: anything },
  );
const body = fc.record(
  { compare: entries(compare), success: entries(op), failure: entries(op), extra: anything },
  { requiredKeys: [] },
);

/** Bodies the DTOs accept, with now and then one wrong member. */
const goodCompare = fc.record(
  {
    key: fc.string(),
    modRevision: fc.nat(),
    exists: fc.boolean(),
    value: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['key'] },
);
const goodOp = fc.oneof(
  fc.record(
    {
      op: fc.constant('put'),
      key: fc.string(),
      value: fc.jsonValue({ maxDepth: 2 }),
      ttl: fc.double({ noNaN: true, noDefaultInfinity: true }),
      keepTtl: fc.boolean(),
    },
    { requiredKeys: ['op', 'key', 'value'] },
  ),
  fc.record({ op: fc.constant('delete'), key: fc.string() }),
  fc.record(
    { op: fc.constant('get'), key: fc.string(), meta: fc.boolean() },
    { requiredKeys: ['op', 'key'] },
  ),
);
const goodBody = fc.record(
  {
    compare: fc.array(
      fc.oneof({ weight: 9, arbitrary: goodCompare }, { weight: 1, arbitrary: compare }),
    ),
    success: fc.array(fc.oneof({ weight: 9, arbitrary: goodOp }, { weight: 1, arbitrary: op })),
    failure: fc.array(fc.oneof({ weight: 9, arbitrary: goodOp }, { weight: 1, arbitrary: op })),
  },
  { requiredKeys: [] },
);

describe('passesDtoRules', () => {
  it('accepts exactly the POST /txn bodies that validateSync accepts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(goodBody, body), (document) => {
        const instance = toTxnRequestDto(document as Record<string, unknown>);
        const passes = passesDtoRules(instance);
        if (passes) accepted++;
        expect(passes).toBe(validates(instance));
      }),
      { numRuns: 2000 },
    );
    // Both answers were exercised, not only refusals.
    expect(accepted).toBeGreaterThan(200);
  });

  it('accepts exactly what validateSync accepts for a DTO with a conditional field', () => {
    for (const ttl of [30, null, '30', undefined, Number.NaN, {}]) {
      const instance = plainToInstance(TtlBodyDto, ttl === undefined ? {} : { ttl });
      expect(passesDtoRules(instance)).toBe(validates(instance));
    }
    const withExtra = plainToInstance(TtlBodyDto, { ttl: 30, other: 1 });
    expect(passesDtoRules(withExtra)).toBe(false);
    expect(validates(withExtra)).toBe(false);
  });

  it('never accepts an object of a class class-validator knows nothing about', () => {
    expect(passesDtoRules({ ttl: 30 })).toBe(false);
    expect(passesDtoRules(new (class Undecorated {})())).toBe(false);
  });
});
