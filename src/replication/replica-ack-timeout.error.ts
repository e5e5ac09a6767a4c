/**
 * A write committed on the leader whose acknowledgements (WRITE_REPLICAS, X-Kv-Replicas) did
 * not all arrive within REPLICA_ACK_TIMEOUT_MS. The write stays: its outcome, for the client, is
 * unknown rather than failed (as with Redis's WAIT).
 */
export class ReplicaAckTimeoutError extends Error {
  override readonly name = 'ReplicaAckTimeoutError';

  constructor(
    readonly revision: number,
    readonly acked: number,
    readonly wanted: number,
  ) {
    super(`Write committed on the leader and acknowledged by ${acked} of ${wanted} followers`);
  }
}
