/** POST /replication/follow naming this very node (under any of its addresses). */
export class FollowRefusedError extends Error {
  override readonly name = 'FollowRefusedError';

  constructor(leaderUrl: string) {
    super(
      `${leaderUrl} is this node itself: a node cannot follow itself (it would redirect every ` +
        'write to itself and no node would lead); name the leader',
    );
  }
}
