import { LeaderHistory, PreviousHistory } from './replication-protocol';

/** The history a node's data belongs to, as ReplicationIdentity records it. */
export interface NodeHistory {
  readonly historyId: string | null;
  readonly previous: PreviousHistory | null;
  readonly ancestors: readonly PreviousHistory[];
}

/**
 * Every history a node's data continues, with the last revision up to which the data is that
 * history's: Infinity for its own, and for each one before it the earliest switch revision on
 * the way back to it (a history continues its predecessor only up to where it branched off).
 */
export function lineage(history: NodeHistory): Map<string, number> {
  const limits = new Map<string, number>();
  if (history.historyId === null) return limits;
  limits.set(history.historyId, Number.POSITIVE_INFINITY);
  let limit = Number.POSITIVE_INFINITY;
  for (const before of history.previous ? [history.previous, ...history.ancestors] : []) {
    limit = Math.min(limit, before.revision);
    if (!limits.has(before.historyId)) limits.set(before.historyId, limit);
  }
  return limits;
}

/**
 * The last revision up to which a node's data is known to be the leader's: Infinity when both
 * are in one history, else the revision up to which both continue their most recent common
 * history (Redis's replid2 offset, a PostgreSQL timeline's switch point, followed back through
 * several promotions and restarts), and undefined when the two are unrelated. Revisions the
 * node holds past it were committed by a leader the new history did not follow: a deposed
 * leader's, which fencing discards.
 */
export function sharedUpTo(node: NodeHistory, leader: LeaderHistory): number | undefined {
  const theirs = lineage(leader);
  let shared: number | undefined;
  for (const [historyId, mine] of lineage(node)) {
    const limit = theirs.get(historyId);
    if (limit !== undefined) shared = Math.max(shared ?? 0, Math.min(mine, limit));
  }
  return shared;
}
