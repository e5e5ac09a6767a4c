import {
  Controller,
  Headers,
  Inject,
  MessageEvent,
  Query,
  Req,
  Sse,
  SseSignal,
} from '@nestjs/common';
import type { Socket } from 'node:net';
import { Observable } from 'rxjs';
import { parseInteger, parseText } from '../keys/query-params';
import { InvalidArgumentError } from '../kv/kv.errors';
import { KvService } from '../kv/kv.service';
import { changeEvents } from './watch-events';

/** Milliseconds between heartbeat comments on an idle /watch stream. */
export const WATCH_HEARTBEAT_MS = Symbol('WATCH_HEARTBEAT_MS');

/** GET /watch: the change feed as Server-Sent Events, on Express and Fastify alike. */
@Controller()
export class WatchController {
  constructor(
    private readonly kv: KvService,
    @Inject(WATCH_HEARTBEAT_MS) private readonly heartbeatMs: number,
  ) {}

  /**
   * Everything that can fail (the query, Last-Event-ID, a compacted revision) is checked by
   * subscribing before the stream opens, so the failure is answered as JSON with its status:
   * once @Sse has sent its headers, the status can no longer change.
   */
  @Sse('watch')
  watch(
    @Req() request: { readonly socket: Socket },
    @SseSignal() signal: AbortSignal,
    @Headers('last-event-id') lastEventId?: string,
    @Query('pattern') pattern?: unknown,
    @Query('fromRevision') fromRevision?: unknown,
  ): Observable<MessageEvent> {
    const subscription = this.kv.watch({
      pattern: parseText('pattern', pattern),
      // A reconnecting EventSource repeats the URL, so Last-Event-ID takes precedence.
      fromRevision: resumeAfter(lastEventId) ?? parseInteger('fromRevision', fromRevision),
    });
    // Nest may never subscribe to the Observable (the client left first); the signal is
    // aborted however the request ends, so the subscription cannot outlive it.
    signal.addEventListener('abort', () => subscription.close(), { once: true });
    return changeEvents(subscription, request.socket, this.heartbeatMs);
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
