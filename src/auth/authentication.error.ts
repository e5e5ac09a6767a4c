/** A request to a protected route without the right bearer token; answered with 401. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}
