import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { normalizeHttpUrl } from './http-url';

/** A transaction is one log record, so its body stays well below the record limit (1 GiB). */
const MAX_TXN_BYTES_LIMIT = 512 * 1024 * 1024;
/** The default MAX_TXN_BYTES: room for a few values of the largest size, with their keys. */
const TXN_BYTES_PER_VALUE_BYTES = 4;

const DEFAULT_WATCH_HISTORY = 10_000;
const MAX_WATCH_HISTORY = 10_000_000;
/** What one change costs the history at least (src/changes/change-size.ts). */
const CHANGE_OVERHEAD = 100;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const integer = <F extends number | undefined>(
  name: string,
  min: number,
  max: number,
  fallback: F,
) =>
  z
    .string()
    .optional()
    .transform((raw, context): number | F => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        context.addIssue({
          code: 'custom',
          message: `${name} must be an integer from ${min} to ${max} (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    });

/** A size in bytes; unset, it is derived from the heap limit by parseConfig. */
const bytes = (name: string) => integer(name, 1024, Number.MAX_SAFE_INTEGER, undefined);

const choice = <T extends string>(name: string, values: readonly [T, ...T[]], fallback: T) =>
  z
    .string()
    .optional()
    .transform((raw, context) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = raw.trim().toLowerCase() as T;
      if (!values.includes(value)) {
        context.addIssue({
          code: 'custom',
          message: `${name} must be one of ${values.join(', ')} (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    });

const flag = (name: string, fallback: boolean) =>
  choice(name, ['true', 'false', '1', '0', 'yes', 'no'], fallback ? 'true' : 'false').transform(
    (value) => value === 'true' || value === '1' || value === 'yes',
  );

const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? fallback : raw.trim()));

/** An http(s) URL without a trailing slash, or null when unset. */
const url = (name: string) =>
  z
    .string()
    .optional()
    .transform((raw, context): string | null => {
      if (raw === undefined || raw.trim() === '') return null;
      const normalized = normalizeHttpUrl(raw);
      if (normalized === undefined) {
        context.addIssue({
          code: 'custom',
          message: `${name} must be an http:// or https:// URL such as http://leader:4000, without query or credentials (got "${raw}")`,
        });
        return z.NEVER;
      }
      return normalized;
    });

const environmentSchema = z.object({
  PORT: integer('PORT', 0, 65535, 4000),
  HOST: text('0.0.0.0'),
  HTTP_ADAPTER: choice('HTTP_ADAPTER', ['express', 'fastify'], 'fastify'),
  STORAGE: choice('STORAGE', ['memory', 'file'], 'memory'),
  DATA_DIR: text('./data'),
  FSYNC: choice('FSYNC', ['always', 'everysec', 'no'], 'everysec'),
  COMPACT_MIN_BYTES: integer('COMPACT_MIN_BYTES', 1024, Number.MAX_SAFE_INTEGER, 64 * 1024 * 1024),
  COMPACT_RATIO: integer('COMPACT_RATIO', 2, 100, 2),
  RECOVER_TRUNCATE: flag('RECOVER_TRUNCATE', false),
  MAX_KEY_BYTES: integer('MAX_KEY_BYTES', 1, 65536, 1024),
  MAX_VALUE_BYTES: integer('MAX_VALUE_BYTES', 2, 512 * 1024 * 1024, 1024 * 1024),
  MAX_BUFFERED_BYTES: integer(
    'MAX_BUFFERED_BYTES',
    65536,
    Number.MAX_SAFE_INTEGER,
    64 * 1024 * 1024,
  ),
  MAX_TXN_OPS: integer('MAX_TXN_OPS', 1, 10_000, 128),
  // 0: derived from MAX_VALUE_BYTES once both are known.
  MAX_TXN_BYTES: integer('MAX_TXN_BYTES', 2, MAX_TXN_BYTES_LIMIT, 0),
  SWEEP_INTERVAL_MS: integer('SWEEP_INTERVAL_MS', 10, 3_600_000, 1000),
  REPLICA_READ_WAIT_MS: integer('REPLICA_READ_WAIT_MS', 0, 60_000, 1000),
  CORS_ORIGIN: text('*'),
  LOG_LEVEL: choice('LOG_LEVEL', LOG_LEVELS, 'info'),
  LOG_PRETTY: flag('LOG_PRETTY', false),
  AUTH_TOKEN: z.string().optional(),
  AUTH_TOKEN_FILE: z.string().optional(),
  METRICS_ENABLED: flag('METRICS_ENABLED', true),
  METRICS_PUBLIC: flag('METRICS_PUBLIC', true),
  PROTECTED_MODE: flag('PROTECTED_MODE', true),
  TRUST_PROXY: flag('TRUST_PROXY', false),
  HEADERS_TIMEOUT_MS: integer('HEADERS_TIMEOUT_MS', 1000, 600_000, 10_000),
  REQUEST_TIMEOUT_MS: integer('REQUEST_TIMEOUT_MS', 1000, 3_600_000, 30_000),
  WATCH_HISTORY: integer('WATCH_HISTORY', 1, MAX_WATCH_HISTORY, undefined),
  WATCH_QUEUE: integer('WATCH_QUEUE', 1, 1_000_000, 1000),
  WATCH_HISTORY_BYTES: bytes('WATCH_HISTORY_BYTES'),
  WATCH_QUEUE_BYTES: integer('WATCH_QUEUE_BYTES', 1024, Number.MAX_SAFE_INTEGER, 16 * 1024 * 1024),
  MAX_DATA_BYTES: bytes('MAX_DATA_BYTES'),
  REPLICA_OF: url('REPLICA_OF'),
  ADVERTISE_URL: url('ADVERTISE_URL'),
  REPLICATION_TOKEN: z.string().optional(),
  REPLICATION_TOKEN_FILE: z.string().optional(),
  REPLICA_MAX_LAG_S: integer('REPLICA_MAX_LAG_S', 1, 86_400, 10),
  REPLICATION_HISTORY: bytes('REPLICATION_HISTORY'),
  REPLICATION_BUFFER_BYTES: integer(
    'REPLICATION_BUFFER_BYTES',
    1024,
    Number.MAX_SAFE_INTEGER,
    64 * 1024 * 1024,
  ),
  WRITE_REPLICAS: integer('WRITE_REPLICAS', 0, 100, 0),
  REPLICA_ACK_TIMEOUT_MS: integer('REPLICA_ACK_TIMEOUT_MS', 1, 600_000, 1000),
  MIN_REPLICAS: integer('MIN_REPLICAS', 0, 100, 0),
  MIN_REPLICAS_MAX_LAG_S: integer('MIN_REPLICAS_MAX_LAG_S', 1, 86_400, 10),
});

/** Every setting kvstore reads, parsed and checked. Nothing else reads process.env. */
export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly httpAdapter: 'express' | 'fastify';
  readonly storage: 'memory' | 'file';
  readonly dataDir: string;
  readonly fsync: 'always' | 'everysec' | 'no';
  readonly compactMinBytes: number;
  readonly compactRatio: number;
  readonly recoverTruncate: boolean;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  /** Bytes held for slow clients: bodies still arriving, answers not yet read (BufferBudget). */
  readonly maxBufferedBytes: number;
  /** Most ops in one branch of a transaction (etcd's default, 128). */
  readonly maxTxnOps: number;
  /** Largest POST /txn body. */
  readonly maxTxnBytes: number;
  readonly sweepIntervalMs: number;
  /** How long a read with ?minRevision= waits for this node to apply that revision. */
  readonly replicaReadWaitMs: number;
  readonly corsOrigin: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly logPretty: boolean;
  /** Bearer token every data route requires, or null when auth is off. */
  readonly authToken: string | null;
  /** Off: no /metrics route, and requests are not timed at all. */
  readonly metricsEnabled: boolean;
  readonly metricsPublic: boolean;
  /**
   * Protected mode is in force (PROTECTED_MODE on and no token set): only loopback clients
   * that name a loopback host are served, as Redis does without a password.
   */
  readonly protectedMode: boolean;
  /** Believe X-Forwarded-Proto: a proxy in front of kvstore tells it the client used TLS. */
  readonly trustProxy: boolean;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Changes kept for /watch replay and resumption (fromRevision, Last-Event-ID). */
  readonly watchHistory: number;
  /** Changes that may wait for one /watch subscriber before its stream is cut off. */
  readonly watchQueue: number;
  /** Bytes of changes kept for /watch replay (the newest change is kept whatever its size). */
  readonly watchHistoryBytes: number;
  /** Bytes of changes that may wait for one /watch subscriber (one change always may). */
  readonly watchQueueBytes: number;
  /** Keys, values and per-key overhead the store holds at most; growth beyond is refused. */
  readonly maxDataBytes: number;
  /** The leader this node follows (REPLICA_OF), or null: the node is a leader. */
  readonly replicaOf: string | null;
  /** The URL clients should use for this node, or null. */
  readonly advertiseUrl: string | null;
  /** The token of the replication endpoints, or null: they take AUTH_TOKEN's rule. */
  readonly replicationToken: string | null;
  /** A follower is ready while its lag stays within this many seconds. */
  readonly replicaMaxLagS: number;
  /** Bytes of changes a follower may be behind on the leader before it is cut off. */
  readonly replicationBufferBytes: number;
  /** Followers that must acknowledge a write's revision before it answers 200 (on a leader). */
  readonly writeReplicas: number;
  /** How long a write waits for those acknowledgements before answering 503. */
  readonly replicaAckTimeoutMs: number;
  /** Followers that must be connected, with lag within minReplicasMaxLagS, for a leader to take writes. */
  readonly minReplicas: number;
  /** Seconds since a follower's last acknowledgement beyond which MIN_REPLICAS does not count it. */
  readonly minReplicasMaxLagS: number;
  /** The V8 heap limit the defaults of the byte limits are derived from. */
  readonly heapLimitBytes: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the environment once; the message of a ConfigError names every bad variable.
 *
 * The byte limits default to shares of the V8 heap limit (NODE_OPTIONS=--max-old-space-size
 * sets it): a quarter for the data, as Redis is given a maxmemory well below the machine's
 * memory, and a sixteenth for the watch history, which holds superseded values the data no longer
 * counts; the rest is the garbage collector's headroom and the requests in flight. A quarter,
 * not a half: V8's heap_size_limit includes the young generation (192 MiB of 448 MiB on Node 24
 * with --max-old-space-size=256), which long-lived values never occupy, so half of it was most
 * of the old generation and a store of 1 MiB values died before reaching its limit.
 * @param heapLimitBytes the V8 heap limit: this process's, unless a test says otherwise
 */
export function parseConfig(
  environment: Record<string, string | undefined>,
  heapLimitBytes = getHeapStatistics().heap_size_limit,
): AppConfig {
  const parsed = environmentSchema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => issue.message);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const env = parsed.data;
  // A body is reserved whole: a budget below the largest body would refuse every such body.
  if (env.MAX_BUFFERED_BYTES <= env.MAX_VALUE_BYTES) {
    throw new ConfigError(
      `Invalid configuration: MAX_BUFFERED_BYTES (${env.MAX_BUFFERED_BYTES}) must be larger ` +
        `than MAX_VALUE_BYTES (${env.MAX_VALUE_BYTES})`,
    );
  }
  const authToken = readToken('AUTH_TOKEN', env.AUTH_TOKEN, env.AUTH_TOKEN_FILE);
  const replicationToken = readToken(
    'REPLICATION_TOKEN',
    env.REPLICATION_TOKEN,
    env.REPLICATION_TOKEN_FILE,
  );
  // One history serves /watch and replication; REPLICATION_HISTORY is its newer name.
  if (
    env.REPLICATION_HISTORY !== undefined &&
    env.WATCH_HISTORY_BYTES !== undefined &&
    env.REPLICATION_HISTORY !== env.WATCH_HISTORY_BYTES
  ) {
    throw new ConfigError(
      'Invalid configuration: REPLICATION_HISTORY and WATCH_HISTORY_BYTES both bound the one ' +
        'change history; set one of them',
    );
  }
  const historyBytes =
    env.REPLICATION_HISTORY ?? env.WATCH_HISTORY_BYTES ?? Math.floor(heapLimitBytes / 16);
  return {
    port: env.PORT,
    host: env.HOST,
    httpAdapter: env.HTTP_ADAPTER,
    storage: env.STORAGE,
    dataDir: env.DATA_DIR,
    fsync: env.FSYNC,
    compactMinBytes: env.COMPACT_MIN_BYTES,
    compactRatio: env.COMPACT_RATIO,
    recoverTruncate: env.RECOVER_TRUNCATE,
    maxKeyBytes: env.MAX_KEY_BYTES,
    maxValueBytes: env.MAX_VALUE_BYTES,
    maxBufferedBytes: env.MAX_BUFFERED_BYTES,
    maxTxnOps: env.MAX_TXN_OPS,
    maxTxnBytes:
      env.MAX_TXN_BYTES ||
      Math.min(env.MAX_VALUE_BYTES * TXN_BYTES_PER_VALUE_BYTES, MAX_TXN_BYTES_LIMIT),
    sweepIntervalMs: env.SWEEP_INTERVAL_MS,
    replicaReadWaitMs: env.REPLICA_READ_WAIT_MS,
    corsOrigin: env.CORS_ORIGIN,
    logLevel: env.LOG_LEVEL,
    logPretty: env.LOG_PRETTY,
    authToken,
    metricsEnabled: env.METRICS_ENABLED,
    metricsPublic: env.METRICS_PUBLIC,
    protectedMode: env.PROTECTED_MODE && authToken === null,
    trustProxy: env.TRUST_PROXY,
    headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    // Sized by REPLICATION_HISTORY, the history counts changes only as far as its bytes reach.
    watchHistory:
      env.WATCH_HISTORY ??
      (env.REPLICATION_HISTORY === undefined
        ? DEFAULT_WATCH_HISTORY
        : Math.min(
            MAX_WATCH_HISTORY,
            Math.max(DEFAULT_WATCH_HISTORY, Math.floor(env.REPLICATION_HISTORY / CHANGE_OVERHEAD)),
          )),
    watchQueue: env.WATCH_QUEUE,
    watchHistoryBytes: historyBytes,
    watchQueueBytes: env.WATCH_QUEUE_BYTES,
    maxDataBytes: env.MAX_DATA_BYTES ?? Math.floor(heapLimitBytes / 4),
    replicaOf: env.REPLICA_OF,
    advertiseUrl: env.ADVERTISE_URL,
    replicationToken,
    replicaMaxLagS: env.REPLICA_MAX_LAG_S,
    replicationBufferBytes: env.REPLICATION_BUFFER_BYTES,
    writeReplicas: env.WRITE_REPLICAS,
    replicaAckTimeoutMs: env.REPLICA_ACK_TIMEOUT_MS,
    minReplicas: env.MIN_REPLICAS,
    minReplicasMaxLagS: env.MIN_REPLICAS_MAX_LAG_S,
    heapLimitBytes,
  };
}

/** NAME, or the contents of NAME_FILE (a Docker or Kubernetes secret). */
function readToken(
  variable: 'AUTH_TOKEN' | 'REPLICATION_TOKEN',
  token: string | undefined,
  file: string | undefined,
): string | null {
  if (token !== undefined && file !== undefined) {
    throw new ConfigError(`Invalid configuration: set ${variable} or ${variable}_FILE, not both`);
  }
  let value = token;
  if (file !== undefined) {
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`Invalid configuration: ${variable}_FILE cannot be read (${reason})`);
    }
  }
  if (value === undefined) return null;
  if (!/^[\x21-\x7e]+$/.test(value)) {
    const name = file === undefined ? variable : `${variable}_FILE`;
    throw new ConfigError(
      `Invalid configuration: ${name} must be a non-empty token of printable ASCII without spaces`,
    );
  }
  return value;
}
