import type { ServerResponse } from 'node:http';

/** What a Fastify reply offers for a handler that answers on the Node response itself. */
interface FastifyReplyLike {
  readonly raw: ServerResponse;
  hijack(): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
}

/**
 * The Node response under the platform's own, for a handler that writes a long answer itself
 * (the /watch stream). Express's response is a ServerResponse. A Fastify reply wraps one: it
 * is hijacked, so that Fastify leaves the answer to the handler, and the headers its hooks put
 * on the reply (security headers, CORS) are carried over. On both, the platform's hooks for a
 * finished response (request metrics) still run once the handler ends it.
 */
export function takeOverResponse(reply: object): ServerResponse {
  if (!isFastifyReply(reply)) return reply as ServerResponse;
  reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(name, value);
  }
  return reply.raw;
}

function isFastifyReply(reply: object): reply is FastifyReplyLike {
  return 'raw' in reply && typeof (reply as Partial<FastifyReplyLike>).hijack === 'function';
}
