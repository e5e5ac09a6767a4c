import { Controller, Get, Headers, Inject, Logger, Req, Res } from '@nestjs/common';
import type { Socket } from 'node:net';
import { ValidQuery } from '../common/query/valid-query.decorator';
import { takeOverResponse } from '../http/raw-response';
import { InvalidArgumentError } from '../kv/kv.errors';
import { KvService } from '../kv/kv.service';
import { streamChanges } from './change-event-stream';
import { WatchQueryDto } from './dto/watch-query.dto';

/** Milliseconds between heartbeat comments on an idle /watch stream. */
export const WATCH_HEARTBEAT_MS = Symbol('WATCH_HEARTBEAT_MS');

const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
  Pragma: 'no-cache',
  Connection: 'keep-alive',
  // Proxies that buffer answers (nginx) would hold the events back.
  'X-Accel-Buffering': 'no',
};

/**
 * GET /watch: the change feed as Server-Sent Events, on Express and Fastify alike. The stream
 * is written on the Node response itself rather than through Nest's @Sse, which writes every
 * event on its own and, for a client that does not read, buffers them up to its own cut-off:
 * here the events of a turn go out together, at the pace the socket takes them.
 */
@Controller()
export class WatchController {
  private readonly logger = new Logger(WatchController.name);

  constructor(
    private readonly kv: KvService,
    @Inject(WATCH_HEARTBEAT_MS) private readonly heartbeatMs: number,
  ) {}

  /**
   * Everything that can fail (the query, Last-Event-ID, a compacted revision) is checked by
   * subscribing before the stream opens, so the failure is answered as JSON with its status.
   */
  @Get('watch')
  async watch(
    @Req() request: { readonly socket: Socket },
    @Res() reply: object,
    @ValidQuery() query: WatchQueryDto,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<void> {
    const resumeFrom = resumeAfter(lastEventId);
    // The stream opens on a state at least as new as the client's write, or not at all (503).
    if (query.minRevision !== undefined) await this.kv.awaitRevision(query.minRevision);
    const subscription = this.kv.watch({
      pattern: query.pattern,
      // A reconnecting EventSource repeats the URL, so Last-Event-ID takes precedence.
      fromRevision: resumeFrom ?? query.fromRevision,
    });
    const response = takeOverResponse(reply);
    // The client may have left while the request was handled: then nothing is sent.
    if (response.destroyed) return subscription.close();
    // An idle stream is not a dead connection; TCP keep-alive finds the dead ones.
    request.socket.setTimeout(0);
    request.socket.setKeepAlive(true);
    response.writeHead(200, EVENT_STREAM_HEADERS);
    response.flushHeaders();
    const unitOf = (revision: number) => this.kv.commitUnitOf(revision);
    streamChanges(subscription, response, this.heartbeatMs, unitOf).catch((error: unknown) => {
      this.logger.error({ msg: 'The /watch stream failed', err: error });
      response.destroy();
    });
  }
}

/** Last-Event-ID is the revision of the last event the client got: resume after it. */
function resumeAfter(lastEventId: string | undefined): number | undefined {
  if (lastEventId === undefined || lastEventId === '') return undefined;
  if (!/^\d{1,15}$/.test(lastEventId)) {
    throw new InvalidArgumentError('Last-Event-ID must be a revision number');
  }
  return Number(lastEventId) + 1;
}
