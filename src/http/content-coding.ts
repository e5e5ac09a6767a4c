import { gunzip, inflate, InputType, ZlibOptions } from 'node:zlib';

/**
 * The content codings a request body may come in, the same on both platforms: Express's body
 * parser decodes gzip and deflate (and br, and zstd on newer Node versions, which are refused
 * before it runs), and Fastify's parser is given the same two decoders. Anything else is
 * answered 415 rather than stored coded (RFC 9110 section 15.5.16).
 */
const DECODERS = { gzip: gunzip, deflate: inflate } as const;

export type ContentCoding = 'identity' | keyof typeof DECODERS;

/** The body's coding, or undefined for one kvstore does not decode. */
export function contentCodingOf(header: string | undefined): ContentCoding | undefined {
  if (header === undefined) return 'identity';
  const coding = header.trim().toLowerCase();
  return coding === 'identity' || coding in DECODERS ? (coding as ContentCoding) : undefined;
}

/** A framework-style error (it carries its status) that the exception filter answers. */
export function unsupportedContentEncoding(): Error {
  return Object.assign(new Error('Unsupported Content-Encoding'), { statusCode: 415 });
}

type Decoder = (buffer: InputType, options: ZlibOptions, done: DecodeCallback) => void;
type DecodeCallback = (error: Error | null, result: Buffer) => void;

/**
 * Decodes a coded body, never to more than `maxBytes` (a gzip bomb is a 413, as on Express).
 * A corrupt body fails with zlib's own error, whose `Z_` code the exception filter reads.
 */
export function decodeBody(
  coding: Exclude<ContentCoding, 'identity'>,
  body: Buffer,
  maxBytes: number,
  done: (error: Error | null, body?: Buffer) => void,
): void {
  const decode: Decoder = DECODERS[coding];
  decode(body, { maxOutputLength: maxBytes }, (error, decoded) => {
    if (error === null) return done(null, decoded);
    const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    done(Object.assign(error, { statusCode: tooLarge ? 413 : 400 }));
  });
}
