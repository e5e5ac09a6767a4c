import { sharedUpTo } from './history-fork';

const leader = (historyId: string, previous: { historyId: string; revision: number } | null) => ({
  historyId,
  previous,
  epoch: 2,
});

describe('sharedUpTo', () => {
  it('is unbounded within one history', () => {
    expect(sharedUpTo({ historyId: 'h1', previous: null }, leader('h1', null))).toBe(Infinity);
  });

  it('is the switch revision for a node of the history the leader was promoted from', () => {
    const deposed = { historyId: 'h1', previous: null };
    expect(sharedUpTo(deposed, leader('h2', { historyId: 'h1', revision: 40 }))).toBe(40);
  });

  it('is the switch revision when the node continued the leader’s history into its own', () => {
    const restarted = { historyId: 'h1b', previous: { historyId: 'h1', revision: 30 } };
    expect(sharedUpTo(restarted, leader('h1', null))).toBe(30);
  });

  it('is the earlier switch when both continued one history (a crashed leader and a promoted follower)', () => {
    const restarted = { historyId: 'h1b', previous: { historyId: 'h1', revision: 30 } };
    expect(sharedUpTo(restarted, leader('h2', { historyId: 'h1', revision: 25 }))).toBe(25);
  });

  it('is undefined for unrelated histories and for a node without one', () => {
    expect(sharedUpTo({ historyId: 'x', previous: null }, leader('h2', null))).toBeUndefined();
    expect(sharedUpTo({ historyId: null, previous: null }, leader('h2', null))).toBeUndefined();
  });
});
