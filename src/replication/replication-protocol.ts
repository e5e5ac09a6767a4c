import { Change, SnapshotEntry } from '../storage/storage.repository';

/**
 * The replication protocol, version 1 (docs/REPLICATION.md specifies it for third parties).
 * A follower opens one long GET on the leader and reads newline-delimited JSON messages; each
 * line is one message, in order. Values travel as their canonical JSON text inside a JSON
 * string, so a follower stores exactly the leader's bytes without parsing them.
 */
export const PROTOCOL_VERSION = 1;
export const STREAM_PATH = '/replication/stream';
export const ACK_PATH = '/replication/ack';
export const NDJSON = 'application/x-ndjson';

/** A history the leader's data continues from: its id, and the revision where it branched off. */
export interface PreviousHistory {
  readonly historyId: string;
  readonly revision: number;
}

/** A leader's history as its hello names it: what a follower records when it continues it. */
export interface LeaderHistory {
  readonly historyId: string;
  readonly previous: PreviousHistory | null;
  /**
   * The histories before `previous`, newest first, each with the revision where the next one
   * branched off it (a few promotions and restarts back): how far fencing and partial resyncs
   * can trace two nodes' data to a common history. Empty when a leader does not send it.
   */
  readonly ancestors: readonly PreviousHistory[];
  /**
   * The history's place in the order of promotions (ReplicationIdentity): a follower refuses a
   * leader whose epoch is below its own. 0 when a leader does not send it.
   */
  readonly epoch: number;
}

export interface HelloMessage extends LeaderHistory {
  readonly type: 'hello';
  readonly protocol: number;
  /** The leader's revision when the stream opened. */
  readonly revision: number;
  /** 'partial': units follow from the follower's revision + 1; 'full': a snapshot comes first. */
  readonly sync: 'partial' | 'full';
  /** The URL clients should use for the leader (its ADVERTISE_URL), or null. */
  readonly advertiseUrl: string | null;
}

export interface SnapshotMessage {
  readonly type: 'snapshot';
  /** The snapshot is the leader's data at this revision; units follow from revision + 1. */
  readonly revision: number;
  readonly keys: number;
  /** Only in GET /replication/snapshot, which has no hello: the history the data belongs to. */
  readonly historyId?: string | null;
}

/** One snapshot entry; `value` is the canonical JSON text. */
export interface EntryMessage extends SnapshotEntry {
  readonly type: 'entry';
}

export interface SnapshotEndMessage {
  readonly type: 'snapshot-end';
  readonly revision: number;
  readonly keys: number;
}

/** One commit unit, applied whole: a transaction's changes, or a single write's. */
export interface ChangesMessage {
  readonly type: 'changes';
  readonly txn: boolean;
  readonly changes: readonly Change[];
}

/** Sent every HEARTBEAT_MS: the leader's revision now, so a follower knows its lag. */
export interface HeartbeatMessage {
  readonly type: 'heartbeat';
  readonly revision: number;
}

/** The leader ends the stream: the follower fell more than the bounded buffer behind. */
export interface CutOffMessage {
  readonly type: 'cut-off';
  /** Every unit before this revision was sent. */
  readonly resumeFrom: number;
  readonly reason: string;
}

export type LeaderMessage =
  | HelloMessage
  | SnapshotMessage
  | EntryMessage
  | SnapshotEndMessage
  | ChangesMessage
  | HeartbeatMessage
  | CutOffMessage;

/** What a follower posts to ACK_PATH (issue 16 adds `durable`, the revision it has synced). */
export interface AckBody {
  readonly follower: string;
  readonly applied: number;
}

export const HEARTBEAT_MS = 500;

export function encodeMessage(message: LeaderMessage): string {
  return `${JSON.stringify(message)}\n`;
}

export function entryLine(entry: SnapshotEntry): string {
  const { key, value, expiresAt, createRevision, modRevision, version } = entry;
  return encodeMessage({
    type: 'entry',
    key,
    value,
    expiresAt,
    createRevision,
    modRevision,
    version,
  });
}

/** Thrown for a line that is not a message of this protocol. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const isRevision = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isExpiry = (value: unknown) => value === null || isRevision(value);

/** Parses and checks one line from the leader; throws ProtocolError when it is malformed. */
export function decodeMessage(line: string): LeaderMessage {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new ProtocolError('a line is not JSON');
  }
  if (message === null || typeof message !== 'object') throw new ProtocolError('not an object');
  const valid = (() => {
    switch (message.type) {
      case 'hello':
        return (
          typeof message.historyId === 'string' &&
          isRevision(message.revision) &&
          (message.sync === 'partial' || message.sync === 'full') &&
          (message.epoch === undefined || isRevision(message.epoch)) &&
          (message.previous === undefined ||
            message.previous === null ||
            isPrevious(message.previous)) &&
          (message.ancestors === undefined ||
            (Array.isArray(message.ancestors) && message.ancestors.every(isPrevious)))
        );
      case 'snapshot':
      case 'snapshot-end':
        return isRevision(message.revision) && isRevision(message.keys);
      case 'entry':
        return isSnapshotEntry(message);
      case 'changes':
        return Array.isArray(message.changes) && message.changes.every(isChange);
      case 'heartbeat':
        return isRevision(message.revision);
      case 'cut-off':
        return isRevision(message.resumeFrom);
      default:
        return false;
    }
  })();
  if (!valid) throw new ProtocolError(`malformed ${String(message.type)} message`);
  if (message.type === 'hello') {
    return {
      ...message,
      previous: message.previous ?? null,
      ancestors: message.ancestors ?? [],
      epoch: message.epoch ?? 0,
    } as HelloMessage;
  }
  return message as unknown as LeaderMessage;
}

function isPrevious(value: unknown): value is PreviousHistory {
  const previous = value as Record<string, unknown>;
  return (
    typeof previous === 'object' &&
    typeof previous.historyId === 'string' &&
    isRevision(previous.revision)
  );
}

function isSnapshotEntry(entry: Record<string, unknown>): boolean {
  return (
    typeof entry.key === 'string' &&
    typeof entry.value === 'string' &&
    isExpiry(entry.expiresAt) &&
    isRevision(entry.createRevision) &&
    isRevision(entry.modRevision) &&
    isRevision(entry.version)
  );
}

function isChange(value: unknown): value is Change {
  const change = value as Record<string, unknown>;
  if (change === null || typeof change !== 'object') return false;
  if (!isRevision(change.revision) || typeof change.key !== 'string') return false;
  switch (change.op) {
    case 'put':
      return (
        typeof change.value === 'string' &&
        isExpiry(change.expiresAt) &&
        isRevision(change.createRevision) &&
        isRevision(change.version)
      );
    case 'ttl':
      return isExpiry(change.expiresAt);
    case 'delete':
    case 'expire':
      return true;
    default:
      return false;
  }
}
