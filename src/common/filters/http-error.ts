import { HttpException, ServiceUnavailableException } from '@nestjs/common';
import { AuthenticationError } from '../../auth/authentication.error';
import { BufferBudgetFullError } from '../../http/buffer-budget';
import { NotEnoughReplicasError } from '../../replication/not-enough-replicas.error';
import { FollowRefusedError } from '../../replication/follow-refused.error';
import { PromotionRefusedError } from '../../replication/promotion-refused.error';
import { ReadOnlyFollowerError } from '../../replication/read-only-follower.error';
import { ReplicaAckTimeoutError } from '../../replication/replica-ack-timeout.error';
import { RequestValidationError } from '../pipes/request-validation.error';
import { InvalidQueryError } from '../query/invalid-query.error';
import {
  InvalidArgumentError,
  InvalidJsonError,
  InvalidKeyError,
  KeyNotFoundError,
  KeyTooLongError,
  PreconditionFailedError,
  RevisionCompactedError,
  RevisionNotAppliedError,
  StorageFullError,
  StorageUnavailableError,
  ValueTooLargeError,
} from '../../kv/kv.errors';

/** The body limits the platforms enforce: POST /txn has its own. */
export interface BodyLimits {
  readonly maxValueBytes: number;
  readonly maxTxnBytes: number;
}

/** The path whose bodies MAX_TXN_BYTES bounds instead of MAX_VALUE_BYTES. */
export const TXN_PATH = '/txn';

export function bodyLimitsOf(config: BodyLimits): BodyLimits {
  return { maxValueBytes: config.maxValueBytes, maxTxnBytes: config.maxTxnBytes };
}

export interface HttpError {
  readonly status: number;
  readonly body: { readonly error: string } & Record<string, unknown>;
  readonly headers?: Record<string, string>;
}

/** A framework error that carries an HTTP status (body parsers, routers). */
interface StatusError {
  status?: unknown;
  statusCode?: unknown;
  code?: unknown;
}

/**
 * The one place where domain errors become HTTP answers. Anything unknown is a 500 whose
 * body says nothing of the internals; the filter logs it.
 */
export function toHttpError(
  exception: unknown,
  limits: BodyLimits,
  path?: string,
): HttpError | undefined {
  if (exception instanceof KeyNotFoundError) {
    return { status: 404, body: { error: exception.message, key: exception.key } };
  }
  if (exception instanceof InvalidJsonError) return { status: 400, body: invalidJson(exception) };
  if (exception instanceof KeyTooLongError) {
    return { status: 414, body: { error: exception.message, maxBytes: exception.maxBytes } };
  }
  if (
    exception instanceof InvalidKeyError ||
    exception instanceof InvalidArgumentError ||
    exception instanceof RequestValidationError ||
    exception instanceof InvalidQueryError
  ) {
    return { status: 400, body: { error: exception.message } };
  }
  if (exception instanceof PreconditionFailedError) {
    return {
      status: 412,
      body: { error: exception.message, key: exception.key, modRevision: exception.modRevision },
    };
  }
  if (exception instanceof RevisionCompactedError) {
    return {
      status: 410,
      body: { error: exception.message, oldestRevision: exception.oldestRevision },
    };
  }
  if (exception instanceof RevisionNotAppliedError) {
    return {
      status: 503,
      body: { error: exception.message, revision: exception.revision },
      headers: { 'Retry-After': '1' },
    };
  }
  if (exception instanceof ValueTooLargeError) {
    return { status: 413, body: { error: exception.message, maxBytes: exception.maxBytes } };
  }
  if (exception instanceof StorageFullError) {
    return { status: 507, body: { error: exception.message, maxBytes: exception.maxBytes } };
  }
  if (exception instanceof StorageUnavailableError) {
    return { status: 503, body: { error: `Storage unavailable: ${exception.message}` } };
  }
  if (exception instanceof BufferBudgetFullError) {
    return { status: 503, body: { error: exception.message }, headers: { 'Retry-After': '1' } };
  }
  if (exception instanceof ReplicaAckTimeoutError) {
    return {
      status: 503,
      body: { error: exception.message, revision: exception.revision, replicas: exception.acked },
    };
  }
  if (exception instanceof NotEnoughReplicasError) {
    return { status: 503, body: { error: exception.message }, headers: { 'Retry-After': '1' } };
  }
  if (exception instanceof PromotionRefusedError || exception instanceof FollowRefusedError) {
    return { status: 409, body: { error: exception.message } };
  }
  if (exception instanceof ReadOnlyFollowerError) {
    return {
      status: 307,
      body: { error: exception.message, leader: exception.leader },
      headers: { Location: exception.location },
    };
  }
  if (exception instanceof AuthenticationError) {
    return {
      status: 401,
      body: { error: exception.message },
      headers: { 'WWW-Authenticate': 'Bearer realm="kvstore"' },
    };
  }
  // Terminus reports a failed health check as a 503 whose response holds the details.
  if (exception instanceof ServiceUnavailableException) {
    return { status: 503, body: { error: 'Not ready', ...(exception.getResponse() as object) } };
  }
  if (exception instanceof HttpException) {
    // Nest 12's Express adapter wraps body-parser's errors, zlib's among them, keeping the cause.
    if (exception.getStatus() === 400 && isZlibError(exception.cause as StatusError | null)) {
      return { status: 400, body: { error: CORRUPT_CODING } };
    }
    return frameworkError(exception.getStatus(), exception.message, limits, path);
  }
  const error = exception as StatusError | null;
  const status = statusOf(error);
  if (status === undefined) return undefined;
  if (status === 400 && isZlibError(error)) return { status, body: { error: CORRUPT_CODING } };
  const undecodable = error?.code === 'FST_ERR_BAD_URL';
  return frameworkError(status, undecodable ? DECODE_FAILURE : undefined, limits, path);
}

const CORRUPT_CODING =
  'Body is not valid data of its Content-Encoding (a corrupt or truncated gzip or deflate stream)';

/** zlib's errors carry Z_ codes (Z_DATA_ERROR, Z_BUF_ERROR for a truncated stream). */
function isZlibError(error: StatusError | null): boolean {
  return typeof error?.code === 'string' && error.code.startsWith('Z_');
}

const DECODE_FAILURE = 'Failed to decode param';

function invalidJson({ message, reason, pointer }: InvalidJsonError) {
  if (reason === undefined) return { error: message };
  return { error: message, reason, ...(pointer !== undefined && { pointer }) };
}

/** Errors raised by the platform before a handler runs: routers and body parsers. */
function frameworkError(
  status: number,
  message: string | undefined,
  limits: BodyLimits,
  path: string | undefined,
) {
  if (status === 404) return { status, body: { error: 'Not found' } };
  // Express's body parser and both platforms' coding checks (src/http/content-coding.ts).
  if (status === 415) {
    return {
      status,
      body: { error: 'Unsupported Content-Encoding: send identity, gzip or deflate' },
    };
  }
  if (status === 413) {
    const isTxn = path !== undefined && isTxnPath(path);
    const maxBytes = isTxn ? limits.maxTxnBytes : limits.maxValueBytes;
    const what = isTxn ? 'Transaction' : 'Value';
    return { status, body: { error: `${what} is larger than ${maxBytes} bytes`, maxBytes } };
  }
  // Both routers decode the wildcard before the handler runs (Express's failure reaches us as
  // a BadRequestException, Fastify's as FST_ERR_BAD_URL) and fail on the keys keyFromUrl refuses.
  if (message?.startsWith(DECODE_FAILURE)) {
    return { status, body: { error: 'Key has malformed percent-encoding or is not UTF-8' } };
  }
  // Other platform messages may echo the request (body parsers quote the body): say nothing.
  if (status >= 400 && status < 500) return { status, body: { error: 'Bad request' } };
  return undefined;
}

/** Whether a request target (path and query) is POST /txn's. */
export function isTxnPath(target: string): boolean {
  return target === TXN_PATH || target.startsWith(`${TXN_PATH}?`);
}

function statusOf(error: StatusError | null): number | undefined {
  const status = error?.status ?? error?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
