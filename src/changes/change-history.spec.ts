import { Change } from '../storage/storage.repository';
import { ChangeHistory } from './change-history';

const expire = (revision: number): Change => ({ op: 'expire', revision, key: `k${revision}` });

describe('ChangeHistory', () => {
  it('holds the last changes by revision, dropping the oldest when full', () => {
    const history = new ChangeHistory(3, 10);
    expect([history.oldestRevision, history.lastRevision]).toEqual([11, 10]);
    const evicted = [11, 12, 13, 14, 15].map((revision) => history.append(expire(revision)));
    expect(evicted).toEqual([undefined, undefined, undefined, expire(11), expire(12)]);
    expect([history.oldestRevision, history.lastRevision]).toEqual([13, 15]);
    expect([12, 13, 14, 15, 16].map((revision) => history.get(revision))).toEqual([
      undefined,
      expire(13),
      expire(14),
      expire(15),
      undefined,
    ]);
  });

  it('takes only the next revision', () => {
    const history = new ChangeHistory(3, 0);
    expect(() => history.append(expire(2))).toThrow('expected revision 1 and was given 2');
  });

  it('holds at least one change', () => {
    expect(() => new ChangeHistory(0, 0)).toThrow(RangeError);
  });
});
