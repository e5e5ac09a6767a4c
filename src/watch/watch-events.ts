import { MessageEvent } from '@nestjs/common';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { Observable } from 'rxjs';
import { SubscriberOverflowError } from '../changes/change-stream.errors';
import { ChangeSubscription } from '../changes/change-subscription';
import { Change } from '../storage/storage.repository';

/** A comment line; clients ignore it, and it keeps proxies from closing an idle stream. */
const HEARTBEAT: MessageEvent = { comment: 'keep-alive' };

/**
 * The Server-Sent Events of a subscription, pulled at the pace of the client's connection.
 *
 * Nest writes whatever the Observable emits and, for a client that does not read, buffers it
 * without limit (up to its own cut-off, which ends the stream without saying why). So the next
 * change is taken from the subscription only once the previous event has reached a socket
 * that can take more: a slow client leaves changes in the subscription's bounded queue, which
 * ends the stream with an `overflow` event naming the revision to resume from.
 */
export function changeEvents(
  subscription: ChangeSubscription,
  socket: Writable,
  heartbeatMs: number,
): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    const stopped = new AbortController();
    const heartbeat = setInterval(() => {
      // A client with writes waiting has a busy connection, not an idle one.
      if (!socket.writableNeedDrain) subscriber.next(HEARTBEAT);
    }, heartbeatMs);
    const pump = async () => {
      for await (const change of subscription) {
        subscriber.next(changeEvent(change));
        await writable(socket, stopped.signal);
      }
      subscriber.complete();
    };
    pump().catch((error: unknown) => {
      if (stopped.signal.aborted) return;
      if (!(error instanceof SubscriberOverflowError)) return subscriber.error(error);
      subscriber.next(overflowEvent(error));
      subscriber.complete();
    });
    return () => {
      clearInterval(heartbeat);
      stopped.abort();
      subscription.close();
    };
  });
}

/** `id` is the revision, so Last-Event-ID tells a reconnecting client's position. */
export function changeEvent(change: Change): MessageEvent {
  return { id: String(change.revision), type: change.op, data: eventData(change) };
}

/**
 * The id is the last revision fully delivered, so an EventSource reconnecting with it as
 * Last-Event-ID resumes exactly at resumeFromRevision. (Without an id Nest would number the
 * event itself, and the client would resume from a wrong revision.)
 */
export function overflowEvent(error: SubscriberOverflowError): MessageEvent {
  const { message, resumeFromRevision } = error;
  return {
    id: String(resumeFromRevision - 1),
    type: 'overflow',
    data: JSON.stringify({ error: message, resumeFromRevision }),
  };
}

/** Assembled as text: a put's value is already canonical JSON (see key-responses.ts). */
function eventData(change: Change): string {
  const head = `{"revision":${change.revision},"type":"${change.op}","key":${JSON.stringify(change.key)}`;
  switch (change.op) {
    case 'put':
      return `${head},"value":${change.value},"expiresAt":${isoTime(change.expiresAt)}}`;
    case 'ttl':
      return `${head},"expiresAt":${isoTime(change.expiresAt)}}`;
    case 'delete':
    case 'expire':
      return `${head}}`;
  }
}

function isoTime(epochMs: number | null): string {
  return epochMs === null ? 'null' : `"${new Date(epochMs).toISOString()}"`;
}

/**
 * Resolves once the socket can take more. The event just emitted first travels through Nest's
 * SSE pipeline (a few ticks), so the check waits a turn of the event loop before looking.
 */
async function writable(socket: Writable, signal: AbortSignal): Promise<void> {
  await setImmediate(undefined, { signal });
  if (socket.writableNeedDrain) await once(socket, 'drain', { signal });
}
