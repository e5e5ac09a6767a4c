import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * HTTP/1.1 lets a client pipeline requests on one connection and expects them handled in order
 * (RFC 9112 section 9.3.2). Node hands the platform the next pipelined request while the
 * previous one's body is still being read, or while its handler still awaits (a write waiting
 * for its followers' acknowledgements), so a later request could overtake an earlier one: a
 * request waits here until the answer before it on the same connection has been sent. Without
 * pipelining that answer was sent long ago, and the request goes on at once.
 */
export function afterPreviousAnswer(socket: Socket, answer: ServerResponse, go: () => void): void {
  // Kept on the socket itself: a WeakMap entry per request would cost the garbage collector.
  const ordered = socket as OrderedSocket;
  const previous = ordered[LAST_ANSWER];
  ordered[LAST_ANSWER] = answer;
  if (previous === undefined || previous.writableFinished || previous.destroyed) {
    go();
    return;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    go();
  };
  previous.once('finish', release);
  previous.once('close', release);
}

const LAST_ANSWER = Symbol('kvstore.lastAnswer');

type OrderedSocket = Socket & { [LAST_ANSWER]?: ServerResponse };
