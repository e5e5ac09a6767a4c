import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ApiAcknowledgedWrite, ApiErrors } from '../keys/keys.openapi';
import { TxnRequestDto } from './dto/txn-request.dto';

const ERROR = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } };

const EXAMPLE = {
  compare: [
    { key: 'account:a', modRevision: 41 },
    { key: 'lock:job-7', exists: false },
  ],
  success: [
    { op: 'put', key: 'account:a', value: { balance: 70 } },
    { op: 'put', key: 'lock:job-7', value: 'worker-3', ttl: 30 },
    { op: 'delete', key: 'tmp:1' },
    { op: 'get', key: 'config' },
  ],
  failure: [{ op: 'get', key: 'account:a', meta: true }],
};

/** The OpenAPI description of POST /txn; the body's schema comes from the DTO's decorators. */
export const ApiTransaction = () =>
  applyDecorators(
    ApiAcknowledgedWrite(),
    ApiOperation({
      summary: 'Compare, then put, delete and get several keys, all or nothing',
      description:
        'If every compare holds, the success ops run, else the failure ops, atomically with ' +
        'every other write and committed as one unit (one log record). A transaction that ' +
        'writes n changes takes the n revisions after the store revision, and answers with the ' +
        'last one (X-Kv-Revision too). At most MAX_TXN_OPS ops per branch; a key at most once ' +
        'written per branch.',
    }),
    ApiBody({ type: TxnRequestDto, examples: { transfer: { value: EXAMPLE } } }),
    ApiResponse({
      status: 200,
      description: 'The branch that ran and one result per op, in order',
      schema: {
        type: 'object',
        properties: {
          succeeded: { type: 'boolean' },
          revision: { type: 'integer' },
          results: {
            type: 'array',
            items: {
              type: 'object',
              description:
                'put: key, modRevision, version (ttl, expiresAt with an expiry); delete: key, ' +
                'deleted; get: the body of GET /key (createRevision, modRevision, version with ' +
                'meta: true), or key and found: false',
            },
          },
        },
      },
    }),
    ApiResponse({
      status: 400,
      description: 'Invalid JSON, or an invalid entry: the message names it (success[2].ttl: ...)',
      schema: ERROR,
    }),
    ApiResponse({ status: 413, description: 'Body larger than MAX_TXN_BYTES', schema: ERROR }),
    ApiErrors(401, 503),
  );
