import { Logger } from '@nestjs/common';
import { ChangeStream } from '../changes/change-stream';
import { ChangeSubscription } from '../changes/change-subscription';
import { StorageRepository } from '../storage/storage.repository';
import { FeedEnd, FeedSink, FeedSource, streamFeed } from './leader-feed';
import { ReplicaAcks } from './replica-acks';
import { lineage } from './history-fork';
import { ReplicationIdentity } from './replication-identity';
import { PROTOCOL_VERSION } from './replication-protocol';

/** A follower as the leader sees it, for GET /replication. */
export interface FollowerRecord {
  readonly id: string;
  connected: boolean;
  /** The revision the follower last acknowledged as applied (0 before any). */
  appliedRevision: number;
  /** The last revision written to it. */
  sentRevision: number;
  bytesSent: number;
  lastSeen: number;
  /** When its last acknowledgement arrived (0 before any): MIN_REPLICAS's measure of lag. */
  lastAckAt: number;
}

export interface StreamRequest {
  readonly follower: string;
  /** The history and revision of the follower's data; absent for a follower without data. */
  readonly historyId?: string;
  readonly revision?: number;
}

/** Disconnected followers are forgotten past this many, oldest first. */
const MAX_REMEMBERED = 100;

/**
 * The leader's side: decides between a partial and a full resync for each follower that
 * connects, serves its stream, and keeps what /replication and the metrics report.
 */
export class ReplicationLeader {
  private readonly logger = new Logger('Replication');
  private readonly records = new Map<string, FollowerRecord>();
  /** The streams being served, ended by `close` when this node stops leading. */
  private readonly feeds = new Set<ChangeSubscription>();
  private bytes = 0;
  private fullResyncs = 0;
  private partialResyncs = 0;
  /** The acknowledgements that writes with WRITE_REPLICAS or X-Kv-Replicas wait on. */
  readonly acks = new ReplicaAcks();

  constructor(
    private readonly storage: StorageRepository,
    private readonly changes: ChangeStream,
    private readonly identity: ReplicationIdentity,
    private readonly advertiseUrl: string | null,
    private readonly bufferBytes: number,
  ) {}

  get followers(): readonly FollowerRecord[] {
    return [...this.records.values()];
  }

  get connectedFollowers(): number {
    return this.followers.filter((record) => record.connected).length;
  }

  /**
   * Followers connected whose last acknowledgement is at most `maxLagMs` old: Redis's measure
   * for min-replicas-max-lag. A connected follower acknowledges at least every
   * ACK_KEEPALIVE_MS, so one that stops (frozen, cut off, overloaded) drops out of the count.
   */
  followersInReach(maxLagMs: number): number {
    const since = Date.now() - maxLagMs;
    let count = 0;
    for (const record of this.records.values()) {
      if (record.connected && record.lastAckAt >= since) count++;
    }
    return count;
  }

  get counters() {
    return {
      bytesSent: this.bytes,
      fullResyncs: this.fullResyncs,
      partialResyncs: this.partialResyncs,
    };
  }

  /**
   * The follower continues from the history when its data is a state of this history (or of
   * the one it branched off, up to the branch point) that the history still holds the changes
   * after; anything else gets a full copy. Both are set up in this one synchronous step, so the
   * snapshot and the changes after it meet with no gap.
   */
  open(request: StreamRequest): FeedSource {
    const historyId = this.identity.historyId!;
    const { previous, ancestors } = this.identity;
    const published = this.changes.lastRevision;
    const from = request.revision === undefined ? undefined : request.revision + 1;
    // The follower's data is a state of this history when its own history is this one or one
    // this continues, up to where this one branched off it.
    const limit =
      request.historyId === undefined ? undefined : lineage(this.identity).get(request.historyId);
    const related = limit !== undefined && request.revision! <= Math.min(limit, published);
    const partial = from !== undefined && related && from >= this.changes.oldestRevision;
    const queue = { maxQueued: Number.MAX_SAFE_INTEGER, maxQueuedBytes: this.bufferBytes };
    const snapshot = partial ? undefined : this.storage.snapshot();
    const subscription = this.changes.subscribe({
      fromRevision: partial ? from : snapshot!.revision + 1,
      ...queue,
    });
    if (partial) this.partialResyncs++;
    else this.fullResyncs++;
    return {
      hello: {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        historyId,
        previous,
        ancestors,
        epoch: this.identity.epoch,
        revision: snapshot?.revision ?? this.storage.currentRevision(),
        sync: partial ? 'partial' : 'full',
        advertiseUrl: this.advertiseUrl,
      },
      snapshot,
      subscription,
      unitOf: (revision) => this.changes.unitOf(revision),
      leaderRevision: () => this.changes.lastRevision,
    };
  }

  /** Serves one follower's stream until it ends; logs its connection and its end. */
  async serve(request: StreamRequest, source: FeedSource, sink: FeedSink): Promise<void> {
    const record = this.connect(request.follower);
    this.feeds.add(source.subscription);
    const started = Date.now();
    const { sync } = source.hello;
    this.logger.log(
      `Follower ${record.id} connected: ${sync} resync ` +
        (source.snapshot
          ? `with a snapshot of ${source.snapshot.keys} keys at revision ${source.snapshot.revision}`
          : `from revision ${request.revision! + 1}`),
    );
    const sentBefore = record.bytesSent;
    let end: FeedEnd | 'failed' = 'failed';
    try {
      end = await streamFeed(source, sink, {
        sent: (bytes) => {
          record.bytesSent += bytes;
          this.bytes += bytes;
        },
        reached: (revision) => {
          record.sentRevision = revision;
        },
      });
    } finally {
      // A no-op once the snapshot was read; not so when the stream ended before it started.
      source.snapshot?.release();
      this.feeds.delete(source.subscription);
      record.connected = false;
      record.lastSeen = Date.now();
      const why = {
        gone: 'disconnected',
        ended: 'disconnected (this node shut down or stopped leading)',
        'cut-off': `cut off (more than ${this.bufferBytes} bytes behind, REPLICATION_BUFFER_BYTES) and disconnected`,
        failed: 'disconnected (the stream failed)',
      }[end];
      this.logger.log(
        `Follower ${record.id} ${why} after ${Math.round((Date.now() - started) / 1000)} s, ` +
          `${record.bytesSent - sentBefore} bytes sent, at revision ${record.sentRevision}`,
      );
    }
  }

  /**
   * This node stops leading (POST /replication/follow): every stream it serves ends, as at
   * shutdown; its followers reconnect and are redirected to its new leader until repointed.
   */
  close(): void {
    for (const subscription of this.feeds) subscription.close();
  }

  /** A follower's acknowledgement of the revision it has applied. */
  /**
   * An acknowledgement counts only from a follower connected now and only in this node's
   * history: one sent in another (before this node restarted with a new history, or before it
   * was promoted) could name revisions whose data this history does not have.
   */
  acknowledge(follower: string, applied: number, historyId?: string): void {
    const record = this.records.get(follower);
    if (record === undefined) return;
    if (historyId !== undefined && historyId !== this.identity.historyId) return;
    record.appliedRevision = Math.max(record.appliedRevision, applied);
    record.lastSeen = record.lastAckAt = Date.now();
    this.acks.acknowledge(follower, applied);
  }

  private connect(id: string): FollowerRecord {
    const record = this.records.get(id) ?? {
      id,
      connected: false,
      appliedRevision: 0,
      sentRevision: 0,
      bytesSent: 0,
      lastSeen: 0,
      lastAckAt: 0,
    };
    record.connected = true;
    record.lastSeen = Date.now();
    // Its acknowledgements start again with this stream: before its copy is loaded it holds
    // none of this history's revisions, whatever it acknowledged on an earlier connection.
    this.acks.forget(id);
    this.records.delete(id);
    this.records.set(id, record);
    for (const [key, old] of this.records) {
      if (this.records.size <= MAX_REMEMBERED) break;
      if (!old.connected) {
        this.records.delete(key);
        this.acks.forget(key);
      }
    }
    return record;
  }
}
