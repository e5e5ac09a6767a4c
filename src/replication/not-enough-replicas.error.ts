/** MIN_REPLICAS: a write refused before anything is committed, too few followers in reach. */
export class NotEnoughReplicasError extends Error {
  override readonly name = 'NotEnoughReplicasError';

  constructor(
    readonly available: number,
    readonly required: number,
    maxLagSeconds: number,
  ) {
    super(
      `Not enough followers: ${available} of the ${required} required (MIN_REPLICAS) are ` +
        `connected and acknowledged within ${maxLagSeconds} s; nothing was written`,
    );
  }
}
