import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import { TtlBodyDto } from './dto/ttl-body.dto';

/**
 * The OpenAPI description of the keys routes, kept out of the controller so that it reads as
 * HTTP translation. Query parameters and the PUT /ttl body come from the DTOs in dto/ (see
 * ValidQuery); the value bodies are described as schemas because the value is any JSON.
 */
const ANY_JSON = { description: 'Any JSON value: string, number, boolean, null, array or object' };
const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string' },
    key: { type: 'string' },
    reason: {
      type: 'string',
      description:
        'With "Invalid JSON": why JSON text cannot be stored as written (a number no 64-bit float holds exactly, a repeated member name); absent when the body is not JSON',
    },
    pointer: {
      type: 'string',
      description: 'With reason: the JSON Pointer (RFC 6901) of the refused part, when short',
    },
  },
};
const EXPIRY = {
  ttl: {
    type: 'number',
    description: 'Remaining seconds (millisecond precision); only with an expiry',
  },
  expiresAt: { type: 'string', format: 'date-time', description: 'Only with an expiry' },
};

const ERRORS: Record<number, string> = {
  400: 'Invalid key, JSON, query or header',
  401: 'Missing or wrong bearer token (when AUTH_TOKEN is set)',
  403: 'Protected mode: no AUTH_TOKEN is set and the client or its Host is not loopback',
  404: 'Key not found',
  412: 'If-Match / If-None-Match failed; body has the current modRevision',
  413: 'Body larger than MAX_VALUE_BYTES',
  415: 'Content-Encoding other than identity, gzip or deflate',
  414: 'Key longer than MAX_KEY_BYTES',
  503: 'Storage cannot take writes now (disk full, I/O error), or the memory for slow clients (MAX_BUFFERED_BYTES) is in use',
  507: 'The write would take the data past MAX_DATA_BYTES; body has maxBytes. Nothing changed',
};

const NOT_APPLIED = {
  type: 'object',
  required: ['error', 'revision'],
  properties: {
    error: { type: 'string' },
    revision: { type: 'integer', description: 'The revision this node has applied' },
  },
};

/** The 503 of a read with minRevision (read your writes); `also` names the route's other 503s. */
export const ApiReadWait = (also?: string) =>
  ApiResponse({
    status: 503,
    description:
      'minRevision not applied on this node within REPLICA_READ_WAIT_MS (Retry-After: 1)' +
      (also === undefined ? '' : `; or ${also}`),
    schema: NOT_APPLIED,
  });

export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: ERRORS[status], schema: ERROR }),
    ),
  );

/** Every write route on a leader: acknowledged writes and MIN_REPLICAS (docs/REPLICATION.md). */
export const ApiAcknowledgedWrite = () =>
  ApiHeader({
    name: 'X-Kv-Replicas',
    required: false,
    description:
      'Followers (0-100, capped at those the leader knows) that must acknowledge this write ' +
      'before it answers; replaces WRITE_REPLICAS for this request. The answer then carries ' +
      'X-Kv-Replicas-Acked. 503 {"error","revision","replicas"} when they did not within ' +
      'REPLICA_ACK_TIMEOUT_MS: the write IS committed on the leader (outcome unknown). 503 ' +
      'without revision: MIN_REPLICAS followers not in reach, nothing stored',
  });

export const ApiKeyParam = () =>
  ApiParam({
    name: 'key',
    description:
      'Everything after the prefix, percent-decoded once: any Unicode text but U+0000, "/" included',
    example: 'config/db/host',
  });

export const ApiJsonValueBody = () =>
  ApiBody({
    required: true,
    schema: { ...ANY_JSON, example: { name: 'Alice', roles: ['admin'] } },
  });

export const ApiConditionalHeaders = () =>
  applyDecorators(
    ApiHeader({ name: 'If-Match', required: false, description: '"<modRevision>" or *' }),
    ApiHeader({ name: 'If-None-Match', required: false, description: '* (PUT: create only)' }),
  );

export const ApiGetKey = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Read a value',
      description: 'Sends ETag: "<modRevision>" and X-Kv-Revision.',
    }),
    ApiKeyParam(),
    ApiHeader({
      name: 'If-None-Match',
      required: false,
      description: '"<rev>": 304 when unchanged',
    }),
    ApiResponse({
      status: 200,
      description: 'The value',
      schema: {
        type: 'object',
        properties: { key: { type: 'string' }, value: ANY_JSON, ...EXPIRY },
      },
    }),
    ApiResponse({ status: 304, description: 'Not modified since the ETag given in If-None-Match' }),
    ApiErrors(400, 401, 403, 404, 414),
    ApiReadWait(),
  );

export const ApiPutKey = () =>
  applyDecorators(
    ApiAcknowledgedWrite(),
    ApiOperation({
      summary: 'Store a value',
      description:
        'The body is parsed as JSON whatever the Content-Type. Without ttl any expiry is removed. ' +
        'The value is stored exactly or refused: a number is kept when the shortest decimal of ' +
        'its 64-bit float has the value written (0.1, 1.0, 1E+2 are kept as 0.1, 1, 100; ' +
        '9007199254740993 and 1e-400 are refused), and repeated member names are refused.',
    }),
    ApiKeyParam(),
    ApiJsonValueBody(),
    ApiConditionalHeaders(),
    ApiResponse({
      status: 200,
      description: 'Stored',
      schema: {
        type: 'object',
        properties: {
          success: { type: 'boolean' },
          key: { type: 'string' },
          value: ANY_JSON,
          ...EXPIRY,
        },
      },
    }),
    ApiErrors(400, 401, 403, 412, 413, 414, 415, 503, 507),
  );

export const ApiDeleteKey = () =>
  applyDecorators(
    ApiAcknowledgedWrite(),
    ApiOperation({ summary: 'Delete a key' }),
    ApiKeyParam(),
    ApiHeader({ name: 'If-Match', required: false, description: '"<modRevision>" or *' }),
    ApiResponse({
      status: 200,
      description: 'Deleted',
      schema: {
        type: 'object',
        properties: { success: { type: 'boolean' }, key: { type: 'string' } },
      },
    }),
    ApiErrors(400, 401, 403, 404, 412, 414, 503),
  );

export const ApiListKeys = () =>
  applyDecorators(
    ApiOperation({
      summary: 'List keys in insertion order',
      description:
        'Without limit: every key and totalKeys, streamed (503 when the memory for slow ' +
        'clients, MAX_BUFFERED_BYTES, is in use). With limit: a page and nextCursor; a page ' +
        'examines at most max(10 x limit, 1000) keys, so it may hold fewer keys, even none, ' +
        'with a nextCursor to follow.',
    }),
    ApiResponse({
      status: 200,
      description: 'Keys',
      schema: {
        type: 'object',
        properties: {
          totalKeys: { type: 'integer' },
          keys: { type: 'array', items: { type: 'string' } },
          nextCursor: { type: 'string', nullable: true },
        },
      },
    }),
    ApiErrors(400, 401, 403),
    ApiReadWait('(unpaged) the memory for slow clients, MAX_BUFFERED_BYTES, is in use'),
  );

const TTL_VIEW = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    ttl: { type: 'number', nullable: true },
    expiresAt: { type: 'string', format: 'date-time', nullable: true },
  },
};

export const ApiGetTtl = () =>
  applyDecorators(
    ApiOperation({ summary: "Read a key's expiry" }),
    ApiKeyParam(),
    ApiResponse({ status: 200, description: 'null: no expiry', schema: TTL_VIEW }),
    ApiErrors(400, 401, 403, 404),
    ApiReadWait(),
  );

export const ApiPutTtl = () =>
  applyDecorators(
    ApiAcknowledgedWrite(),
    ApiOperation({ summary: "Set, change or remove a key's expiry without resending its value" }),
    ApiKeyParam(),
    ApiBody({ type: TtlBodyDto }),
    ApiResponse({ status: 200, description: 'Changed', schema: TTL_VIEW }),
    ApiErrors(400, 401, 403, 404, 412, 415, 503),
  );

export const ApiStats = () =>
  applyDecorators(
    ApiOperation({ summary: 'Key counts that show the expiry sweep at work' }),
    ApiResponse({
      status: 200,
      description: 'Counts',
      schema: {
        type: 'object',
        properties: {
          totalKeys: { type: 'integer' },
          storedKeys: { type: 'integer' },
          keysWithExpiry: { type: 'integer' },
          expiredTotal: { type: 'integer' },
        },
      },
    }),
    ApiErrors(400, 401, 403),
    ApiReadWait(),
  );
