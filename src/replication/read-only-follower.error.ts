/** A write sent to a follower: answered 307 to the same path and query on the leader. */
export class ReadOnlyFollowerError extends Error {
  override readonly name = 'ReadOnlyFollowerError';

  /**
   * @param leader the leader's URL clients should use
   * @param location where the client should send the write instead
   */
  constructor(
    readonly leader: string,
    readonly location: string,
  ) {
    super('This node is a read-only follower');
  }
}
