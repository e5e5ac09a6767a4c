import { EventEmitter, once } from 'node:events';
import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { ChangeSubscription } from '../changes/change-subscription';
import { CommitUnit } from '../changes/commit-units';
import { Change } from '../storage/storage.repository';
import { changeEvent, HEARTBEAT_EVENT, overflowEvent, txnEvent } from './watch-events';

/** The part of a Node response (http.ServerResponse) the events are written to. */
export interface EventSink extends EventEmitter {
  write(chunk: string): boolean;
  end(): void;
  readonly writableNeedDrain: boolean;
}

/**
 * A batch is written once it is this large rather than at the end of the turn, so that what a
 * client that stops reading holds in the server's buffers stays near this, plus one change.
 */
export const MAX_BATCH_CHARS = 64 * 1024;

/**
 * Writes the subscription's changes to `sink` as Server-Sent Events until the subscription
 * ends, the client goes away, or the client falls too far behind; resolves then.
 *
 * A turn of the event loop may commit many changes (every request it serves, every writer a
 * group fsync wakes). Each change is taken from the subscription as soon as it is published
 * and added to a batch, which is written as one chunk at the end of the turn. Once the socket
 * holds more than it sends at once (write() returns false), nothing more is taken until it
 * drains: a client that does not read leaves the changes in its subscription, whose bound ends
 * the stream with an `overflow` event naming the revision to resume from. A client that reads
 * keeps up at any rate the server commits, whatever the pace of the event loop.
 *
 * A transaction's changes (`unitOf` names the unit a revision belongs to) go out as one `txn`
 * event: it was published at once, so the rest of it is taken without waiting.
 */
export async function streamChanges(
  subscription: ChangeSubscription,
  sink: EventSink,
  heartbeatMs: number,
  unitOf: (revision: number) => CommitUnit | undefined = () => undefined,
): Promise<void> {
  const gone = new AbortController();
  const onClose = () => {
    gone.abort();
    subscription.close();
  };
  sink.once('close', onClose);
  const batch = new EventBatch(sink, gone.signal);
  const heartbeat = setInterval(() => {
    // A client with writes waiting has a busy connection, not an idle one.
    if (!sink.writableNeedDrain) batch.add(HEARTBEAT_EVENT);
  }, heartbeatMs);
  try {
    for (;;) {
      if (batch.backedUp) await batch.backedUp;
      const next = await subscription.next();
      if (next.done) break;
      const unit = unitOf(next.value.revision);
      batch.add(
        unit ? txnEvent(unit, takeUnit(subscription, next.value, unit)) : changeEvent(next.value),
      );
    }
  } catch (error) {
    if (gone.signal.aborted) return;
    if (!(error instanceof SubscriberOverflowError)) throw error;
    // Every change before the resume point is in the batch or was written already.
    batch.add(overflowEvent(error));
  } finally {
    clearInterval(heartbeat);
    sink.removeListener('close', onClose);
    subscription.close();
    const rest = batch.close();
    if (!gone.signal.aborted) {
      // Ending flushes what the socket still holds, whether it is backed up or not.
      if (rest !== '') sink.write(rest);
      sink.end();
    }
  }
}

/**
 * The rest of a transaction whose first matching change was just read: published together, so
 * all of it is there. A subscription cut off meanwhile resumes at the transaction's start.
 */
function takeUnit(subscription: ChangeSubscription, first: Change, unit: CommitUnit): Change[] {
  try {
    return [first, ...subscription.takeThrough(unit.lastRevision)];
  } catch (error) {
    if (!(error instanceof SubscriberOverflowError)) throw error;
    throw new SubscriberOverflowError(Math.min(error.resumeFromRevision, unit.firstRevision));
  }
}

/** Events waiting to be written together, at the end of the turn they were added in. */
class EventBatch {
  private text = '';
  private scheduled: NodeJS.Immediate | undefined;
  /** While the socket holds more than it sends at once: settles once it drains or closes. */
  backedUp: Promise<void> | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly gone: AbortSignal,
  ) {}

  add(event: string): void {
    this.text += event;
    if (this.text.length >= MAX_BATCH_CHARS) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what waits, unless the socket is backed up: then it goes out once it drains. */
  private flush(): void {
    this.cancel();
    if (this.text === '' || this.backedUp !== undefined) return;
    const full = !this.sink.write(this.text);
    this.text = '';
    if (!full) return;
    this.backedUp = once(this.sink, 'drain', { signal: this.gone }).then(
      () => {
        this.backedUp = undefined;
        // With what the stream takes meanwhile, at the end of the turn.
        if (this.text !== '') this.scheduled ??= setImmediate(() => this.flush());
      },
      // The client left: the subscription is closed, and the stream ends without writing.
      () => (this.backedUp = undefined),
    );
  }

  /** Stops the batching; returns what was not written yet. */
  close(): string {
    this.cancel();
    const rest = this.text;
    this.text = '';
    return rest;
  }

  private cancel(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
  }
}
