import { ArgumentsHost, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig } from '../../config/app-config';
import { KeyNotFoundError, RevisionNotAppliedError, StorageFullError } from '../../kv/kv.errors';
import { NotEnoughReplicasError } from '../../replication/not-enough-replicas.error';
import { PromotionRefusedError } from '../../replication/promotion-refused.error';
import { ReplicaAckTimeoutError } from '../../replication/replica-ack-timeout.error';
import { HttpExceptionFilter } from './http-exception.filter';

describe('HttpExceptionFilter', () => {
  let replies: Array<{ body: unknown; status: number }>;
  let logged: unknown[];
  let filter: HttpExceptionFilter;
  let setHeader: jest.Mock;

  beforeEach(() => {
    replies = [];
    logged = [];
    setHeader = jest.fn();
    const adapter = {
      setHeader,
      reply: (_response: unknown, body: unknown, status: number) => replies.push({ body, status }),
    };
    const config = { get: () => 1024 } as unknown as ConfigService<AppConfig, true>;
    filter = new HttpExceptionFilter(
      { httpAdapter: adapter } as unknown as HttpAdapterHost,
      config,
    );
    jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
      logged.push(message);
    });
  });

  afterEach(() => jest.restoreAllMocks());

  const hostFor = (request: object): ArgumentsHost =>
    ({
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
    }) as unknown as ArgumentsHost;

  it('answers a domain error without logging it', () => {
    filter.catch(new KeyNotFoundError('k'), hostFor({ headers: {} }));
    expect(replies).toEqual([{ status: 404, body: { error: expect.any(String), key: 'k' } }]);
    expect(logged).toEqual([]);
  });

  it('answers a revision not applied in time with 503, the applied revision and Retry-After', () => {
    filter.catch(new RevisionNotAppliedError(9, 7, 200), hostFor({ headers: {} }));
    expect(replies).toEqual([
      {
        status: 503,
        body: { error: 'Revision 9 is not applied on this node (waited 200 ms)', revision: 7 },
      },
    ]);
    expect(setHeader).toHaveBeenCalledWith(expect.anything(), 'Retry-After', '1');
  });

  it('answers a write short of its acknowledgements with 503, its revision and the count', () => {
    filter.catch(new ReplicaAckTimeoutError(12, 1, 2), hostFor({ headers: {} }));
    expect(replies).toEqual([
      {
        status: 503,
        body: {
          error: 'Write committed on the leader and acknowledged by 1 of 2 followers',
          revision: 12,
          replicas: 1,
        },
      },
    ]);
  });

  it('answers a write refused by MIN_REPLICAS with 503 and Retry-After', () => {
    filter.catch(new NotEnoughReplicasError(0, 1, 2), hostFor({ headers: {} }));
    expect(replies).toEqual([
      { status: 503, body: { error: expect.stringMatching(/^Not enough followers: 0 of the 1/) } },
    ]);
    expect(setHeader).toHaveBeenCalledWith(expect.anything(), 'Retry-After', '1');
  });

  it('answers a promotion of a follower without data with 409', () => {
    filter.catch(new PromotionRefusedError(), hostFor({ headers: {} }));
    expect(replies).toEqual([
      { status: 409, body: { error: expect.stringMatching(/^This follower holds no copy/) } },
    ]);
  });

  it('answers a write over the data limit with 507 and the limit', () => {
    filter.catch(new StorageFullError(4096), hostFor({ headers: {} }));
    expect(replies).toEqual([
      {
        status: 507,
        body: { error: expect.stringMatching(/^Storage full: .*4096 bytes/), maxBytes: 4096 },
      },
    ]);
    expect(logged).toEqual([]);
  });

  it('logs an unexpected error with the caller’s request id and answers 500 with the same id', () => {
    const failure = new Error('disk on fire');
    filter.catch(failure, hostFor({ headers: { 'x-request-id': 'abc-123' } }));
    expect(replies).toEqual([
      { status: 500, body: { error: 'Internal server error', requestId: 'abc-123' } },
    ]);
    expect(logged).toEqual([expect.objectContaining({ reqId: 'abc-123', err: failure })]);
    expect(JSON.stringify(replies)).not.toContain('disk on fire');
  });

  it('uses the id pino-http gave the request, on either platform', () => {
    const raw = { headers: { 'x-request-id': 'ignored' }, id: 'from-pino' };
    filter.catch(new Error('x'), hostFor({ raw }));
    expect(replies[0].body).toMatchObject({ requestId: 'from-pino' });
    // The request's own logger carries the id then: it is not repeated in the line.
    expect(logged).toEqual([expect.not.objectContaining({ reqId: expect.anything() })]);
  });

  it('makes a fresh id when the caller sent none or one unfit for logs', () => {
    filter.catch('not an error', hostFor({ headers: { 'x-request-id': 'bad id\nwith newline' } }));
    const { requestId } = replies[0].body as { requestId: string };
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged).toEqual([expect.objectContaining({ reqId: requestId, err: expect.any(Error) })]);
  });
});
