/** A request whose shape its DTO refuses; the message names the field (`success[2].ttl: ...`). */
export class RequestValidationError extends Error {
  override readonly name = 'RequestValidationError';

  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}
