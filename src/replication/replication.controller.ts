import { Controller, Get, HttpCode, Logger, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { takeOverResponse } from '../http/raw-response';
import { InvalidArgumentError } from '../kv/kv.errors';
import { streamSnapshot } from './leader-feed';
import { ReadOnlyFollowerError } from './read-only-follower.error';
import { ReplicationAccessGuard } from './replication-access.guard';
import { NDJSON, STREAM_PATH } from './replication-protocol';
import { ReplicationStatus } from './replication-status';

const STREAM_HEADERS = {
  'Content-Type': NDJSON,
  'Cache-Control': 'no-store',
  'X-Accel-Buffering': 'no',
};

/**
 * The replication protocol's endpoints (docs/REPLICATION.md, "Protocol"), which followers and
 * tools speak: specified there as NDJSON streams, so left out of the OpenAPI document. They
 * take their own token rule (ReplicationAccessGuard), so they are public to the global guard.
 * The operator's routes are ReplicationAdminController's.
 */
@ApiExcludeController()
@Controller('replication')
export class ReplicationController {
  private readonly logger = new Logger('Replication');

  constructor(private readonly status: ReplicationStatus) {}

  /** This node's data as one consistent snapshot, NDJSON: for backups, checks and tests. */
  @Get('snapshot')
  @Public()
  @UseGuards(ReplicationAccessGuard)
  snapshot(@Res() reply: object): void {
    const response = takeOverResponse(reply);
    if (response.destroyed) return;
    const snapshot = this.status.snapshot();
    response.writeHead(200, STREAM_HEADERS);
    streamSnapshot(snapshot, this.status.identity.historyId, response).catch((error: unknown) => {
      this.logger.error({ msg: 'A snapshot stream failed', err: error });
      response.destroy();
    });
  }

  /** A follower's stream: hello, a snapshot when needed, then every commit unit, as NDJSON. */
  @Get('stream')
  @Public()
  @UseGuards(ReplicationAccessGuard)
  stream(
    @Res() reply: object,
    @Query('follower') follower?: unknown,
    @Query('historyId') historyId?: unknown,
    @Query('revision') revision?: unknown,
  ): void {
    const leader = this.leader();
    const request = {
      follower: parseId('follower', follower),
      ...(historyId !== undefined && {
        historyId: parseId('historyId', historyId),
        revision: parseRevision('revision', revision),
      }),
    };
    const source = leader.open(request);
    const response = takeOverResponse(reply);
    if (response.destroyed) {
      source.subscription.close();
      source.snapshot?.release();
      return;
    }
    response.socket?.setTimeout(0);
    response.socket?.setKeepAlive(true);
    response.writeHead(200, STREAM_HEADERS);
    response.flushHeaders();
    leader.serve(request, source, response).catch((error: unknown) => {
      this.logger.error({ msg: 'A replication stream failed', err: error });
      response.destroy();
    });
  }

  /** A follower's acknowledgement of the revision it applied (issue 16 makes writes wait on it). */
  @Post('ack')
  @Public()
  @UseGuards(ReplicationAccessGuard)
  @HttpCode(204)
  acknowledge(
    @Query('follower') follower?: unknown,
    @Query('applied') applied?: unknown,
    @Query('historyId') historyId?: unknown,
  ): void {
    this.leader().acknowledge(
      parseId('follower', follower),
      parseRevision('applied', applied),
      historyId === undefined ? undefined : parseId('historyId', historyId),
    );
  }

  private leader() {
    const { leader, follower } = this.status;
    if (leader) return leader;
    // Followers do not feed others: send the caller to the leader.
    throw new ReadOnlyFollowerError(follower!.leaderUrl, follower!.leaderUrl + STREAM_PATH);
  }
}

function parseId(name: string, raw: unknown): string {
  if (typeof raw !== 'string' || !/^[\w.-]{1,100}$/.test(raw)) {
    throw new InvalidArgumentError(`${name} must be 1 to 100 letters, digits, '.', '-' or '_'`);
  }
  return raw;
}

function parseRevision(name: string, raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new InvalidArgumentError(`${name} must be a revision: an integer from 0`);
  }
  return Number(raw);
}
