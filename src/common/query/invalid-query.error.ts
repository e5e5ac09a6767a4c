/** A query parameter that its route's DTO refuses; the message names the parameter. */
export class InvalidQueryError extends Error {
  override readonly name = 'InvalidQueryError';
}
