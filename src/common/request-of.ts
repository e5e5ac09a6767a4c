import type { ExecutionContext } from '@nestjs/common';

/**
 * The request of an HTTP handler's context, as `switchToHttp().getRequest()` gives it: the
 * first argument Nest hands the handler. Read directly, because switchToHttp() assigns three
 * new closures to the context on every call, and the param decorators of the hot routes call
 * it on every request.
 */
export function requestOf<T>(context: ExecutionContext): T {
  return context.getArgByIndex<T>(0);
}
