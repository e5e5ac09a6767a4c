/**
 * Told about every answered request that matched a route: the status sent and the seconds from
 * the request's arrival to the last byte of the answer. Each HTTP platform makes one per method
 * and route template (`GET`, `/key/{key}`) with a ResponseObserver, and calls it from its own
 * cheapest hook, outside Nest's interceptor chain, which would cost more per request than the
 * measurement itself.
 */
export type RouteObserver = (status: number, seconds: number) => void;

export type ResponseObserver = (method: string, route: string) => RouteObserver;
