/**
 * Told about every answered request that matched a route: its method, the route template
 * (`/key/{key}`), the status sent and the seconds from the request's arrival to the last byte
 * of the answer. Each HTTP platform calls it from its own cheapest hook, outside Nest's
 * interceptor chain, which would cost more per request than the measurement itself.
 */
export type ResponseObserver = (
  method: string,
  route: string,
  status: number,
  seconds: number,
) => void;
