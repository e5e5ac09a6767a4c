import { sharedUpTo } from './history-fork';
import { PreviousHistory } from './replication-protocol';

const at = (historyId: string, revision: number): PreviousHistory => ({ historyId, revision });

const node = (
  historyId: string | null,
  previous: PreviousHistory | null = null,
  ancestors: PreviousHistory[] = [],
) => ({ historyId, previous, ancestors });

const leader = (
  historyId: string,
  previous: PreviousHistory | null,
  ancestors: PreviousHistory[] = [],
) => ({ historyId, previous, ancestors, epoch: 2 });

describe('sharedUpTo', () => {
  it('is unbounded within one history', () => {
    expect(sharedUpTo(node('h1'), leader('h1', null))).toBe(Infinity);
  });

  it('is the switch revision for a node of the history the leader was promoted from', () => {
    expect(sharedUpTo(node('h1'), leader('h2', at('h1', 40)))).toBe(40);
  });

  it('is the switch revision when the node continued the leader’s history into its own', () => {
    expect(sharedUpTo(node('h1b', at('h1', 30)), leader('h1', null))).toBe(30);
  });

  it('is the earlier switch when both continued one history (a crashed leader and a promoted follower)', () => {
    expect(sharedUpTo(node('h1b', at('h1', 30)), leader('h2', at('h1', 25)))).toBe(25);
  });

  it('follows the leader’s history back through several switches (a promotion, then its crash)', () => {
    // A was promoted at 40 (h1 -> h2), then crashed and restarted at 55 (h2 -> h3); the deposed
    // leader of h1 wrote on past 40: only up to 40 is its data the new history's.
    const deposed = node('h1');
    const restartedLeader = leader('h3', at('h2', 55), [at('h1', 40)]);
    expect(sharedUpTo(deposed, restartedLeader)).toBe(40);
    // The earliest switch on the way back bounds it, whatever a later one says.
    expect(sharedUpTo(deposed, leader('h3', at('h2', 30), [at('h1', 40)]))).toBe(30);
  });

  it('takes the most recent history both continue', () => {
    const follower = node('h2b', at('h2', 70), [at('h1', 40)]);
    expect(sharedUpTo(follower, leader('h3', at('h2', 60), [at('h1', 40)]))).toBe(60);
  });

  it('is undefined for unrelated histories and for a node without one', () => {
    expect(sharedUpTo(node('x'), leader('h2', null))).toBeUndefined();
    expect(sharedUpTo(node(null), leader('h2', null))).toBeUndefined();
    expect(sharedUpTo(node('x', at('y', 3), [at('z', 1)]), leader('h2', at('h1', 5)))).toBe(
      undefined,
    );
  });
});
