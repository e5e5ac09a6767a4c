import { EventEmitter, once } from 'node:events';
import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { ChangeSubscription } from '../changes/change-subscription';
import { CommitUnit } from '../changes/commit-units';
import { Change, StoreSnapshot } from '../storage/storage.repository';
import { encodeMessage, entryLine, HEARTBEAT_MS, HelloMessage } from './replication-protocol';

/** The part of a Node response the feed writes to. */
export interface FeedSink extends EventEmitter {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
}

/** What the feed reports as it goes, for the follower's entry in /replication and metrics. */
export interface FeedProgress {
  /** Bytes handed to the socket. */
  sent(bytes: number): void;
  /** The last revision written to the follower. */
  reached(revision: number): void;
}

export interface FeedSource {
  readonly hello: HelloMessage;
  /** Present for a full resync: the data at hello's snapshot revision, streamed first. */
  readonly snapshot?: StoreSnapshot;
  /** Subscribed in the same turn as the snapshot was taken, from its revision + 1. */
  readonly subscription: ChangeSubscription;
  readonly unitOf: (revision: number) => CommitUnit | undefined;
  readonly leaderRevision: () => number;
}

/** Why a feed ended: the follower left, the leader shut down, or the follower fell too far behind. */
export type FeedEnd = 'gone' | 'ended' | 'cut-off';

/** Text is written in chunks of about this size, so a slow follower holds little in buffers. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Writes one follower's stream: hello, the snapshot if any, then every commit unit whole, with
 * heartbeats. Nothing more is taken from the subscription while the socket is backed up, so a
 * follower that does not keep up leaves its changes in the shared history, whose bound
 * (REPLICATION_BUFFER_BYTES) cuts it off with a `cut-off` message: the leader's memory never
 * grows with a slow follower beyond that bound and one chunk.
 */
export async function streamFeed(
  source: FeedSource,
  sink: FeedSink,
  progress: FeedProgress,
): Promise<FeedEnd> {
  const gone = new AbortController();
  const onClose = () => {
    gone.abort();
    source.subscription.close();
  };
  sink.once('close', onClose);
  const out = new ChunkedWriter(sink, gone.signal, progress);
  let cutOff = false;
  const heartbeat = setInterval(() => {
    // Also behind data still queued: the follower reads it in order, and learns how far the
    // leader had got when it was sent.
    out.add(encodeMessage({ type: 'heartbeat', revision: source.leaderRevision() }));
    if (sink.writableNeedDrain && source.subscription.overflowed) {
      // Past its bound with its socket still full (a frozen follower): no cut-off message can
      // reach it, so the connection is dropped; it resumes from what it applied.
      cutOff = true;
      onClose();
      sink.destroy();
    }
  }, HEARTBEAT_MS);
  try {
    out.add(encodeMessage(source.hello));
    if (source.snapshot) await writeSnapshot(source.snapshot, out, gone.signal);
    for (;;) {
      await out.drained();
      if (gone.signal.aborted) return cutOff ? 'cut-off' : 'gone';
      const next = await source.subscription.next();
      if (next.done) return 'ended';
      const unit = source.unitOf(next.value.revision);
      const changes = unit
        ? [next.value, ...source.subscription.takeThrough(unit.lastRevision)]
        : [next.value];
      out.add(encodeMessage({ type: 'changes', txn: unit !== undefined, changes }));
      progress.reached(lastOf(changes).revision);
    }
  } catch (error) {
    if (gone.signal.aborted) return cutOff ? 'cut-off' : 'gone';
    if (!(error instanceof SubscriberOverflowError)) throw error;
    out.add(
      encodeMessage({
        type: 'cut-off',
        resumeFrom: error.resumeFromRevision,
        reason: 'the follower fell further behind than REPLICATION_BUFFER_BYTES allows',
      }),
    );
    return 'cut-off';
  } finally {
    clearInterval(heartbeat);
    sink.removeListener('close', onClose);
    source.subscription.close();
    const rest = out.close();
    if (!gone.signal.aborted && !sink.destroyed) {
      if (rest !== '') sink.write(rest);
      sink.end();
    }
  }
}

/**
 * Writes a snapshot alone (GET /replication/snapshot: a consistent copy of any node's data, in
 * the stream's format), at the pace the client reads it.
 */
export async function streamSnapshot(
  snapshot: StoreSnapshot,
  historyId: string | null,
  sink: FeedSink,
): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  sink.once('close', onClose);
  const out = new ChunkedWriter(sink, gone.signal, {
    sent: () => undefined,
    reached: () => undefined,
  });
  try {
    await writeSnapshot(snapshot, out, gone.signal, historyId);
  } finally {
    sink.removeListener('close', onClose);
    const rest = out.close();
    if (!gone.signal.aborted && !sink.destroyed) {
      if (rest !== '') sink.write(rest);
      sink.end();
    }
  }
}

async function writeSnapshot(
  snapshot: StoreSnapshot,
  out: ChunkedWriter,
  gone: AbortSignal,
  historyId?: string | null,
) {
  const { revision, keys } = snapshot;
  out.add(
    encodeMessage({
      type: 'snapshot',
      revision,
      keys,
      ...(historyId !== undefined && { historyId }),
    }),
  );
  for (const entry of snapshot.entries()) {
    out.add(entryLine(entry));
    await out.drained();
    if (gone.aborted) return;
  }
  out.add(encodeMessage({ type: 'snapshot-end', revision, keys }));
}

function lastOf(changes: readonly Change[]): Change {
  return changes[changes.length - 1];
}

/** Lines collected into chunks, written at the end of the turn or once a chunk is full. */
class ChunkedWriter {
  private text = '';
  private scheduled: NodeJS.Immediate | undefined;
  private backedUp: Promise<void> | undefined;

  constructor(
    private readonly sink: FeedSink,
    private readonly gone: AbortSignal,
    private readonly progress: FeedProgress,
  ) {}

  add(line: string): void {
    this.text += line;
    if (this.text.length >= CHUNK_CHARS) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Settles once the socket takes more (at once unless it is backed up). */
  async drained(): Promise<void> {
    while (this.backedUp) await this.backedUp;
  }

  /** Stops; returns what was not written. */
  close(): string {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const rest = this.text;
    this.text = '';
    if (rest !== '') this.progress.sent(Buffer.byteLength(rest));
    return rest;
  }

  private flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.text === '' || this.backedUp !== undefined || this.gone.aborted) return;
    const text = this.text;
    this.text = '';
    this.progress.sent(Buffer.byteLength(text));
    if (this.sink.write(text)) return;
    this.backedUp = once(this.sink, 'drain', { signal: this.gone }).then(
      () => {
        this.backedUp = undefined;
        if (this.text !== '') this.scheduled ??= setImmediate(() => this.flush());
      },
      () => (this.backedUp = undefined),
    );
  }
}
