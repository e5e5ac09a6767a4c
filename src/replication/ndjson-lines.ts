import { StringDecoder } from 'node:string_decoder';
import { ProtocolError } from './replication-protocol';

/**
 * Splits a byte stream into its lines, decoding UTF-8 across chunk boundaries. The consumer
 * pulls one line at a time, and the stream is read no faster than it pulls: a follower that
 * applies slowly lets TCP slow the leader down. A line longer than `maxChars` is refused
 * rather than buffered.
 */
export async function* ndjsonLines(
  chunks: AsyncIterable<Buffer>,
  maxChars: number,
): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += decoder.write(chunk);
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      yield pending.slice(start, end);
      start = end + 1;
    }
    pending = pending.slice(start);
    if (pending.length > maxChars) {
      throw new ProtocolError(`a line is longer than ${maxChars} characters`);
    }
  }
  pending += decoder.end();
  if (pending !== '') throw new ProtocolError('the stream ended inside a line');
}
