import { StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { AnswerHold } from '../http/buffer-budget';
import { KeyListingSlices } from '../kv/kv.service';
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
 * The connection's budget holds the body's size and the list of keys: what a client that never
 * reads makes the server and the kernel buffer for it, and the CPU spent producing it. Without
 * a pattern the body's bound is known up front (the store's key bytes) and reserved before a key
 * is looked at: a listing that cannot be held is refused at once, for the cost of a request, not
 * after the work of gathering every key (10,000 keys took 5-10 ms of CPU per refused listing),
 * and of many listings arriving at once the first that fit are served whole. With a pattern the
 * list is held as it grows and the body reserved once its size is known, so that of many
 * gathered at once some are served whole, rather than all refused halfway. Either way the hold
 * is then set to what the body takes.
 */
export async function streamedListing(
  slices: KeyListingSlices,
  hold: AnswerHold | undefined,
): Promise<StreamableFile> {
  const keys: string[] = [];
  try {
    const bound = slices.keyCharsBound;
    if (bound !== undefined) hold?.reserve(CHUNK_CHARS + bound);
    let bodyBytes = CHUNK_CHARS;
    for await (const slice of slices) {
      if (bound === undefined) hold?.reserve(slice.length * BYTES_PER_KEY);
      // Each key as `"key",` (escapes aside).
      for (const key of slice) bodyBytes += key.length + 3;
      for (const key of slice) keys.push(key);
    }
    hold?.resize(Math.max(bodyBytes, keys.length * BYTES_PER_KEY));
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
