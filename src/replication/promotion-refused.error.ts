/** POST /replication/promote on a follower that never loaded a leader's data. */
export class PromotionRefusedError extends Error {
  override readonly name = 'PromotionRefusedError';

  constructor() {
    super(
      "This follower holds no copy of a leader's data yet: promoting it would start an empty " +
        'history; promote a follower that has one',
    );
  }
}
