import { Logger } from '@nestjs/common';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChangeStream } from '../changes/change-stream';
import { StorageRepository, StoreReplacement } from '../storage/storage.repository';
import { DiscardedRevisions } from './discarded-revisions';
import { sharedUpTo } from './history-fork';
import { ndjsonLines } from './ndjson-lines';
import { ReplicationIdentity } from './replication-identity';
import {
  ACK_PATH,
  decodeMessage,
  HEARTBEAT_MS,
  HelloMessage,
  NDJSON,
  ProtocolError,
  STREAM_PATH,
} from './replication-protocol';

export interface FollowerOptions {
  /** REPLICA_OF, or the leader of POST /replication/follow. */
  readonly leaderUrl: string;
  readonly token: string | null;
  readonly maxLagSeconds: number;
  /** The longest line accepted from the leader. */
  readonly maxLineChars: number;
}

export type FollowerState = 'connecting' | 'full-resync' | 'streaming' | 'refused' | 'stopped';

/** No byte from the leader for this long (heartbeats come every HEARTBEAT_MS): the link is dead. */
const SILENCE_MS = 6 * HEARTBEAT_MS;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** How often the acknowledgement is retried, and checked for the keepalive below. */
const ACK_INTERVAL_MS = 250;
/**
 * A connected follower acknowledges at least this often even when nothing changed, so that
 * the leader can tell a follower in reach from a frozen one (MIN_REPLICAS_MAX_LAG_S).
 */
const ACK_KEEPALIVE_MS = 500;

/** The leader's data is not this follower's to replace, or its history is older (see `greet`). */
class RefusedLeaderError extends Error {}

/**
 * The follower's side: keeps one stream open to the leader, applies what it sends through the
 * storage port exactly as recovery replays the log (so revisions, versions and ETags are the
 * leader's), publishes it to this node's change feed (/watch), and reconnects with backoff.
 */
export class ReplicationFollower {
  private readonly logger = new Logger('Replication');
  private stopped = false;
  private abort = new AbortController();
  private running: Promise<void> | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  /**
   * What this node may acknowledge: the last revision of the leader's history that applyChanges
   * (or a full copy's commit) has returned for, so written under this node's FSYNC policy. Null
   * while it holds no such revision: before the hello of a partial resync, and through a full
   * copy, whose old data (another history, or the same one further on) the leader must not
   * count. The table's own revision moves earlier, before the fsync of FSYNC=always.
   */
  private durableRevision: number | null = null;
  private acked = -1;
  private ackedAt = 0;
  private acking = false;
  private ackAgain = false;
  state: FollowerState = 'connecting';
  connected = false;
  /** The leader's revision as it last said (hello, heartbeat, or a unit received). */
  leaderRevision: number | null = null;
  /** The last moment this node had applied everything the leader had told it of. */
  private inSyncAt: number | undefined;
  leaderAdvertiseUrl: string | null = null;
  refusal: string | undefined;
  lastError: string | undefined;
  fullResyncs = 0;
  partialResyncs = 0;
  bytesReceived = 0;

  constructor(
    private readonly storage: StorageRepository,
    private readonly changes: ChangeStream,
    private readonly identity: ReplicationIdentity,
    private readonly discarded: DiscardedRevisions,
    private readonly options: FollowerOptions,
  ) {}

  /** The leader this follower connects to: REPLICA_OF, or the one POST /replication/follow named. */
  get followsUrl(): string {
    return this.options.leaderUrl;
  }

  /** Where writes are redirected: the leader's ADVERTISE_URL once known, else `followsUrl`. */
  get leaderUrl(): string {
    return this.leaderAdvertiseUrl ?? this.options.leaderUrl;
  }

  get appliedRevision(): number {
    return this.storage.currentRevision();
  }

  get lagRevisions(): number | null {
    if (this.leaderRevision === null) return null;
    return Math.max(0, this.leaderRevision - this.appliedRevision);
  }

  /** Seconds since this node last had everything the leader had; null before it ever had. */
  get lagSeconds(): number | null {
    if (this.inSyncAt === undefined) return null;
    if (this.connected && this.lagRevisions === 0 && this.state === 'streaming') return 0;
    return (Date.now() - this.inSyncAt) / 1000;
  }

  /** Why reads from this node should not be routed to it now, or undefined when they may be. */
  notReadyReason(): string | undefined {
    const { maxLagSeconds, leaderUrl } = this.options;
    if (this.state === 'refused') return `Refusing the leader at ${leaderUrl}: ${this.refusal}`;
    if (this.identity.historyId === null) {
      return `No copy of the leader's data loaded yet (REPLICA_OF ${leaderUrl})`;
    }
    const lag = this.lagSeconds;
    if (lag === null) return `Not caught up with the leader at ${leaderUrl} since starting`;
    if (lag > maxLagSeconds) {
      return `${lag.toFixed(1)} s behind the leader at ${leaderUrl} (REPLICA_MAX_LAG_S ${maxLagSeconds})`;
    }
    return undefined;
  }

  start(): void {
    this.running = this.run();
    this.ackTimer = setInterval(() => void this.acknowledge(), ACK_INTERVAL_MS);
    this.ackTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    clearInterval(this.ackTimer);
    this.abort.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stopped;) {
      const progressed = await this.session().then(
        (applied) => applied,
        (error: unknown) => {
          if (!this.stopped && !(error instanceof RefusedLeaderError)) {
            this.lastError = describe(error);
            this.logger.warn(
              `Replication from ${this.options.leaderUrl} failed: ${this.lastError}`,
            );
          }
          return false;
        },
      );
      this.connected = false;
      this.durableRevision = null;
      if (this.stopped) return;
      if (this.state !== 'refused') this.state = 'connecting';
      failures = progressed ? 0 : failures + 1;
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** failures);
      await sleep(backoff * (0.5 + Math.random() / 2), undefined, {
        signal: this.abort.signal,
      }).catch(() => undefined);
    }
  }

  /** One connection, until it ends; resolves with whether it got anywhere (for the backoff). */
  private async session(): Promise<boolean> {
    const response = await this.openStream();
    const started = performance.now();
    let replacement: StoreReplacement | undefined;
    let hello: HelloMessage | undefined;
    let snapshotKeys = 0;
    let snapshotChars = 0;
    let progressed = false;
    const counted = async function* (follower: ReplicationFollower) {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        follower.bytesReceived += chunk.length;
        yield chunk;
      }
    };
    try {
      for await (const line of ndjsonLines(counted(this), this.options.maxLineChars)) {
        const message = decodeMessage(line);
        if (hello === undefined) {
          if (message.type !== 'hello')
            throw new ProtocolError('the stream does not start with hello');
          hello = message;
          await this.greet(hello);
          progressed = true;
          continue;
        }
        switch (message.type) {
          case 'snapshot':
            this.state = 'full-resync';
            replacement = await this.storage.replaceAll(message.revision);
            snapshotKeys = 0;
            snapshotChars = 0;
            break;
          case 'entry': {
            if (!replacement) throw new ProtocolError('an entry outside a snapshot');
            const { key, value, expiresAt, createRevision, modRevision, version } = message;
            await replacement.add({ key, value, expiresAt, createRevision, modRevision, version });
            snapshotKeys++;
            snapshotChars += line.length + 1;
            break;
          }
          case 'snapshot-end':
            if (!replacement || snapshotKeys !== message.keys) {
              throw new ProtocolError(
                `the snapshot ended after ${snapshotKeys} of ${message.keys} keys`,
              );
            }
            await replacement.commit(this.identity.followerState(hello));
            replacement = undefined;
            this.identity.adopted(hello);
            this.changes.restartAt(message.revision);
            this.fullResyncs++;
            this.durableRevision = message.revision;
            this.state = 'streaming';
            this.logger.log(
              `Full resync from ${this.options.leaderUrl}: ${snapshotKeys} keys at revision ` +
                `${message.revision}, ${snapshotChars} characters of entries, in ` +
                `${Math.round(performance.now() - started)} ms`,
            );
            break;
          case 'changes':
            if (replacement) throw new ProtocolError('changes inside a snapshot');
            await this.storage.applyChanges(message.changes);
            this.durableRevision = message.changes[message.changes.length - 1].revision;
            this.changes.publish(message.changes, { unit: message.txn });
            this.heard(this.durableRevision);
            void this.acknowledge();
            break;
          case 'heartbeat':
            this.heard(message.revision);
            break;
          case 'cut-off':
            this.logger.warn(
              `The leader cut this follower off at revision ${message.resumeFrom}: ${message.reason}`,
            );
            return progressed;
          case 'hello':
            throw new ProtocolError('a second hello');
        }
      }
      return progressed;
    } finally {
      await replacement?.abort();
      response.destroy();
      if (hello !== undefined) {
        this.logger.log(
          `Disconnected from the leader at ${this.options.leaderUrl} at revision ${this.appliedRevision}`,
        );
      }
    }
  }

  /**
   * Checks the leader's hello against this node's data, and records the history it continues.
   * A full copy replaces the data: revisions this node holds past the point where the leader's
   * history forked from its own (a deposed leader's writes) are saved first.
   */
  private async greet(hello: HelloMessage): Promise<void> {
    const mine = this.identity.historyId;
    const revision = this.appliedRevision;
    if (hello.epoch < this.identity.epoch) {
      this.refuse(
        `its history ${hello.historyId} has epoch ${hello.epoch}, older than this node's ` +
          `${mine} of epoch ${this.identity.epoch} (a leader deposed by a promotion?); keeping ` +
          "this node's data",
      );
    }
    this.leaderAdvertiseUrl = hello.advertiseUrl;
    this.leaderRevision = hello.revision;
    if (hello.sync === 'full') {
      const shared = sharedUpTo(this.identity, hello);
      if (shared === undefined) this.checkUnrelated(hello, mine, revision);
      else await this.discarded.save(mine!, shared, this.options.leaderUrl);
    } else if (mine !== hello.historyId) {
      await this.identity.follow(hello);
    }
    this.connected = true;
    // Partial: the data here is the leader's history up to `revision`, every unit of it applied
    // (and so written) before the last stream ended or recovered from disk at start.
    this.durableRevision = hello.sync === 'partial' ? revision : null;
    this.refusal = undefined;
    this.lastError = undefined;
    if (hello.sync === 'partial') this.partialResyncs++;
    this.state = hello.sync === 'partial' ? 'streaming' : 'full-resync';
    this.logger.log(
      `Connected to the leader at ${this.options.leaderUrl} (history ${hello.historyId}, ` +
        `epoch ${hello.epoch}, revision ${hello.revision}): ${hello.sync} resync` +
        (hello.sync === 'partial' ? ` from revision ${revision + 1}` : ''),
    );
    this.heard(hello.revision);
  }

  /**
   * A full copy never replaces data from an unrelated history with a lower revision (a leader
   * that restarted empty, Redis's documented data-loss trap): the follower keeps its data and
   * its reads, and says why.
   */
  private checkUnrelated(hello: HelloMessage, mine: string | null, revision: number): void {
    if ((mine === null && revision === 0) || revision <= hello.revision) return;
    this.refuse(
      `its history ${hello.historyId} is unrelated to this node's (${mine ?? 'none recorded'}) ` +
        `and its revision ${hello.revision} is lower than this node's ${revision}; keeping this ` +
        "node's data (a leader restarted empty?)",
    );
  }

  private refuse(refusal: string): never {
    if (refusal !== this.refusal) {
      this.logger.error(`Refusing the leader at ${this.options.leaderUrl}: ${refusal}`);
    }
    this.refusal = refusal;
    this.state = 'refused';
    throw new RefusedLeaderError(refusal);
  }

  private heard(leaderRevision: number): void {
    this.leaderRevision = Math.max(this.leaderRevision ?? 0, leaderRevision);
    if (this.state === 'streaming' && this.appliedRevision >= this.leaderRevision) {
      this.inSyncAt = Date.now();
    }
  }

  private openStream(): Promise<IncomingMessage> {
    const url = new URL(STREAM_PATH, `${this.options.leaderUrl}/`);
    url.searchParams.set('follower', this.identity.nodeId);
    if (this.identity.historyId !== null) {
      url.searchParams.set('historyId', this.identity.historyId);
      url.searchParams.set('revision', String(this.appliedRevision));
    }
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, {
        headers: { Accept: NDJSON, ...this.authorization() },
        signal: this.abort.signal,
      });
      request.setTimeout(SILENCE_MS, () =>
        request.destroy(new Error(`no data from the leader for ${SILENCE_MS} ms`)),
      );
      request.once('error', reject);
      request.once('response', (response) => {
        if (response.statusCode === 200) return resolve(response);
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => (body = (body + text).slice(0, 500)));
        response.once('end', () =>
          reject(new Error(`the leader answered ${response.statusCode}: ${body.trim()}`)),
        );
      });
      request.end();
    });
  }

  /**
   * Tells the leader the revision applied here, which applyChanges has written to this node's
   * storage under its FSYNC policy (fsynced with FSYNC=always). Called after every unit applied,
   * with at most one request in flight: the units applied meanwhile are acknowledged together by
   * the next one, so under load one round trip covers many writes (group commit), and the
   * request rate is bounded by the round trip, not by the write rate.
   */
  private async acknowledge(): Promise<void> {
    if (this.acking) {
      this.ackAgain = true;
      return;
    }
    const applied = this.durableRevision;
    const historyId = this.identity.historyId;
    const keepalive = Date.now() - this.ackedAt >= ACK_KEEPALIVE_MS;
    if (!this.connected || applied === null || historyId === null) return;
    if (applied === this.acked && !keepalive) return;
    const url = new URL(ACK_PATH, `${this.options.leaderUrl}/`);
    url.searchParams.set('follower', this.identity.nodeId);
    url.searchParams.set('applied', String(applied));
    url.searchParams.set('historyId', historyId);
    this.acking = true;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: this.authorization(),
        signal: AbortSignal.timeout(SILENCE_MS),
      });
      await response.body?.cancel();
      if (response.ok) {
        this.acked = applied;
        this.ackedAt = Date.now();
      }
    } catch {
      // The stream notices a lost leader; the next tick acknowledges again.
    } finally {
      this.acking = false;
    }
    if (this.ackAgain) {
      this.ackAgain = false;
      void this.acknowledge();
    }
  }

  private authorization(): Record<string, string> {
    const { token } = this.options;
    return token === null ? {} : { Authorization: `Bearer ${token}` };
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
