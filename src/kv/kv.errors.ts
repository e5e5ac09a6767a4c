/**
 * The domain's errors. Handlers throw them; one exception filter turns them into HTTP answers.
 * Messages are written for the client: they say what was wrong and echo nothing of the request
 * beyond the key.
 */
export { RevisionCompactedError } from '../changes/change-stream.errors';
export { StorageFullError, StorageUnavailableError } from '../storage/storage.repository';

export abstract class KvError extends Error {}

export class KeyNotFoundError extends KvError {
  constructor(readonly key: string) {
    super('Key not found');
  }
}

/** A key the store will not hold: empty, or with characters it refuses. */
export class InvalidKeyError extends KvError {}

export class KeyTooLongError extends KvError {
  constructor(readonly maxBytes: number) {
    super(`Key is longer than ${maxBytes} bytes`);
  }
}

/** A value or parameter that is malformed or out of range. */
export class InvalidArgumentError extends KvError {}

/**
 * A body that is not JSON (no reason: the classic answer), or JSON that the store cannot keep
 * as written: `reason` says why, `pointer` (RFC 6901) where, when that is known and short.
 */
export class InvalidJsonError extends KvError {
  constructor(
    readonly reason?: string,
    readonly pointer?: string,
  ) {
    super('Invalid JSON');
  }
}

export class ValueTooLargeError extends KvError {
  constructor(readonly maxBytes: number) {
    super(`Value is larger than ${maxBytes} bytes`);
  }
}

export class PreconditionFailedError extends KvError {
  constructor(
    readonly key: string,
    readonly modRevision: number | null,
  ) {
    super('Precondition failed');
  }
}

/**
 * A read asked for a revision (`minRevision`) that this node had not applied when its wait
 * (REPLICA_READ_WAIT_MS) ended: a follower behind its leader, or a revision no write reached.
 */
export class RevisionNotAppliedError extends KvError {
  constructor(
    readonly minRevision: number,
    /** The revision the node had applied. */
    readonly revision: number,
    waitedMs: number,
  ) {
    super(`Revision ${minRevision} is not applied on this node (waited ${waitedMs} ms)`);
  }
}
