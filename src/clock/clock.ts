/** Time as the store sees it, injected so that expiry is tested without sleeping. */
export const CLOCK = Symbol('CLOCK');

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
