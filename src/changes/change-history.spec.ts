import { Change } from '../storage/storage.repository';
import { ChangeHistory } from './change-history';
import { CHANGE_OVERHEAD_BYTES, changeSize } from './change-size';

const expire = (revision: number): Change => ({ op: 'expire', revision, key: `k${revision}` });
const put = (revision: number, valueBytes: number): Extract<Change, { op: 'put' }> => ({
  op: 'put',
  revision,
  key: 'k',
  value: 'x'.repeat(valueBytes),
  expiresAt: null,
  createRevision: 1,
  version: revision,
});
const unbounded = Number.POSITIVE_INFINITY;

describe('ChangeHistory', () => {
  it('holds the last changes by revision, dropping the oldest when full', () => {
    const history = new ChangeHistory({ maxChanges: 3, maxBytes: unbounded }, 10);
    expect([history.oldestRevision, history.lastRevision]).toEqual([11, 10]);
    const evicted = [11, 12, 13, 14, 15].map((revision) => history.append(expire(revision)));
    expect(evicted).toEqual([[], [], [], [expire(11)], [expire(12)]]);
    expect([history.oldestRevision, history.lastRevision]).toEqual([13, 15]);
    expect([12, 13, 14, 15, 16].map((revision) => history.get(revision))).toEqual([
      undefined,
      expire(13),
      expire(14),
      expire(15),
      undefined,
    ]);
  });

  it('counts a change as its key and value in UTF-8 plus a fixed overhead', () => {
    expect(changeSize(expire(1))).toBe(CHANGE_OVERHEAD_BYTES + 2);
    const unicode: Change = { ...put(1, 0), key: 'ü', value: '"€"' };
    expect(changeSize(unicode)).toBe(CHANGE_OVERHEAD_BYTES + 2 + 5);
  });

  it('drops the oldest changes while it holds more bytes than allowed', () => {
    const size = changeSize(put(1, 1000));
    const history = new ChangeHistory({ maxChanges: 100, maxBytes: 3 * size }, 0);
    for (let revision = 1; revision <= 3; revision++) {
      expect(history.append(put(revision, 1000))).toEqual([]);
    }
    expect(history.heldBytes).toBe(3 * size);
    expect(history.append(put(4, 1000))).toEqual([put(1, 1000)]);
    expect([history.oldestRevision, history.heldBytes]).toEqual([2, 3 * size]);
    // One large change displaces several small ones.
    expect(history.append(put(5, 2500)).map((change) => change.revision)).toEqual([2, 3, 4]);
    expect([history.oldestRevision, history.heldBytes]).toEqual([5, changeSize(put(5, 2500))]);
    expect(history.sizeOf(5)).toBe(changeSize(put(5, 2500)));
    expect([history.sizeOf(4), history.sizeOf(6)]).toEqual([0, 0]);
  });

  it('holds the newest change even when it alone is over the byte limit', () => {
    const history = new ChangeHistory({ maxChanges: 10, maxBytes: 1024 }, 0);
    history.append(expire(1));
    expect(history.append(put(2, 5000))).toEqual([expire(1)]);
    expect(history.get(2)).toEqual(put(2, 5000));
    expect(history.append(expire(3))).toEqual([put(2, 5000)]);
    expect(history.heldBytes).toBe(changeSize(expire(3)));
  });

  it('takes only the next revision', () => {
    const history = new ChangeHistory({ maxChanges: 3, maxBytes: unbounded }, 0);
    expect(() => history.append(expire(2))).toThrow('expected revision 1 and was given 2');
  });

  it('holds at least one change and needs a positive byte limit', () => {
    expect(() => new ChangeHistory({ maxChanges: 0, maxBytes: unbounded }, 0)).toThrow(RangeError);
    expect(() => new ChangeHistory({ maxChanges: 1, maxBytes: 0 }, 0)).toThrow(RangeError);
  });
});
