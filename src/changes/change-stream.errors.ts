/**
 * Errors of the change feed. They live beside it, below the domain, so that a future
 * replication module can use the feed without the HTTP-facing layers; kv.errors re-exports the
 * one a client can cause.
 */

/** A subscription asked for revisions the bounded history no longer holds. */
export class RevisionCompactedError extends Error {
  override readonly name = 'RevisionCompactedError';

  /** @param oldestRevision the oldest revision a subscription can start from now */
  constructor(readonly oldestRevision: number) {
    super('Revision compacted');
  }
}

/**
 * A subscriber fell further behind than its queue allows and was cut off. Every change before
 * `resumeFromRevision` was delivered to it or did not match; subscribing again from there
 * continues with no gap, as long as the history still holds that revision.
 */
export class SubscriberOverflowError extends Error {
  override readonly name = 'SubscriberOverflowError';

  constructor(readonly resumeFromRevision: number) {
    super('Subscriber too slow');
  }
}
