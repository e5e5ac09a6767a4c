import { LeaderHistory, PreviousHistory } from './replication-protocol';

/** The history a node's data belongs to, as ReplicationIdentity records it. */
export interface NodeHistory {
  readonly historyId: string | null;
  readonly previous: PreviousHistory | null;
}

/**
 * The last revision up to which a node's data is known to be the leader's: Infinity when both
 * are in one history, the switch revision when one history continues the other or both
 * continue the same one (Redis's replid2 offset, a PostgreSQL timeline's switch point), and
 * undefined when the two are unrelated. Revisions the node holds past it were committed by a
 * leader the new history did not follow: a deposed leader's, which fencing discards.
 */
export function sharedUpTo(node: NodeHistory, leader: LeaderHistory): number | undefined {
  const mine = node.historyId;
  if (mine === null) return undefined;
  if (mine === leader.historyId) return Number.POSITIVE_INFINITY;
  const theirs = leader.previous;
  const before = node.previous;
  if (theirs?.historyId === mine) return theirs.revision;
  if (before?.historyId === leader.historyId) return before.revision;
  if (theirs && before && theirs.historyId === before.historyId) {
    return Math.min(theirs.revision, before.revision);
  }
  return undefined;
}
