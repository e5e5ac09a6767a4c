import { StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { AnswerHold } from '../http/buffer-budget';
import { JSON_CONTENT_TYPE } from './key-responses';

/** Bytes of body per chunk handed to the socket. */
const CHUNK_CHARS = 64 * 1024;
const CHUNKS_PER_TURN = 8;

/** What the list of keys holds per key while it is gathered: a reference (the strings are the store's). */
const BYTES_PER_KEY = 8;

/**
 * The classic unpaged listing, `{"totalKeys":N,"keys":[...]}`, byte for byte what
 * JSON.stringify would give, but never as one string: the keys are gathered slice by slice,
 * then sent in chunks at the pace the client reads. totalKeys comes first in the body, so the
 * keys are all gathered before the first byte goes out.
 *
 * The connection's budget holds the list as it grows, then the whole body's size once it is
 * known: what a client that never reads makes the server and the kernel buffer for it, and
 * the CPU spent producing it. Reserving the body only at the end means that of many listings
 * gathered at once some are served whole, rather than all refused halfway.
 */
export async function streamedListing(
  slices: AsyncIterable<string[]>,
  hold: AnswerHold | undefined,
): Promise<StreamableFile> {
  const keys: string[] = [];
  try {
    let held = 0;
    let bodyBytes = CHUNK_CHARS;
    for await (const slice of slices) {
      hold?.reserve(slice.length * BYTES_PER_KEY);
      held += slice.length * BYTES_PER_KEY;
      // Each key as `"key",` (escapes aside).
      for (const key of slice) bodyBytes += key.length + 3;
      for (const key of slice) keys.push(key);
    }
    hold?.reserve(Math.max(0, bodyBytes - held));
  } catch (error) {
    hold?.release();
    throw error;
  }
  const stream = Readable.from(listingChunks(keys), { objectMode: false });
  stream.once('close', () => hold?.release());
  return new StreamableFile(stream, { type: JSON_CONTENT_TYPE });
}

/**
 * A socket that takes every chunk at once (a fast reader on loopback) would let the stream run
 * from one chunk to the next in microtasks, never letting other requests in: a turn of the
 * event loop every CHUNKS_PER_TURN chunks.
 */
async function* listingChunks(keys: readonly string[]): AsyncGenerator<Buffer> {
  let chunk = `{"totalKeys":${keys.length},"keys":[`;
  let chunks = 0;
  for (let i = 0; i < keys.length; i++) {
    chunk += (i === 0 ? '' : ',') + JSON.stringify(keys[i]);
    if (chunk.length >= CHUNK_CHARS) {
      yield Buffer.from(chunk);
      chunk = '';
      if (++chunks % CHUNKS_PER_TURN === 0) await setImmediate();
    }
  }
  yield Buffer.from(`${chunk}]}`);
}
