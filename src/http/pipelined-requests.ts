import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * HTTP/1.1 lets a client pipeline requests on one connection and expects them handled in order
 * (RFC 9112 section 9.3.2). Node hands Fastify the next pipelined request while the previous
 * one's body is still being read, so a later write could overtake an earlier one: a request
 * waits here until the answer before it on the same connection has been sent. Without
 * pipelining that answer was sent long ago, and the request goes on at once.
 */
export function orderPipelinedRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // Kept on the socket itself: a WeakMap entry per request would cost the garbage collector.
    const socket = request.raw.socket as OrderedSocket;
    const previous = socket[LAST_ANSWER];
    socket[LAST_ANSWER] = reply.raw;
    if (previous === undefined || previous.writableFinished || previous.destroyed) {
      done();
      return;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      done();
    };
    previous.once('finish', release);
    previous.once('close', release);
  });
}

const LAST_ANSWER = Symbol('kvstore.lastAnswer');

type OrderedSocket = Socket & { [LAST_ANSWER]?: ServerResponse };
