/** A Server-Sent Events reader for end-to-end tests: fetch, then parse the stream by hand. */
export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  /** Comment lines (`: text`), e.g. heartbeats. */
  readonly comments: readonly string[];
}

export class SseStream {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  static async open(
    baseUrl: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<SseStream> {
    const abort = new AbortController();
    const response = await fetch(baseUrl + path, { headers, signal: abort.signal });
    return new SseStream(response.status, response.headers, response.body!.getReader(), abort);
  }

  /** The next message, comments included; undefined once the server has ended the stream. */
  async nextMessage(timeoutMs = 5000): Promise<SseMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const message = parseBlock(block);
        if (message !== undefined) return message;
        continue;
      }
      const chunk = await withTimeout(this.reader.read(), deadline - Date.now());
      if (chunk.done) return undefined;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next event, skipping comments; undefined once the stream has ended. */
  async nextEvent(timeoutMs = 5000): Promise<SseMessage | undefined> {
    for (;;) {
      const message = await this.nextMessage(timeoutMs);
      if (message === undefined || message.event !== undefined || message.data !== undefined) {
        return message;
      }
    }
  }

  /** Exactly `count` events, in order. */
  async events(count: number, timeoutMs = 5000): Promise<SseMessage[]> {
    const events: SseMessage[] = [];
    while (events.length < count) {
      const event = await this.nextEvent(timeoutMs);
      if (event === undefined) throw new Error(`Stream ended after ${events.length} events`);
      events.push(event);
    }
    return events;
  }

  /** Disconnects, as a client closing the page would. */
  close(): void {
    this.abort.abort();
  }
}

function parseBlock(block: string): SseMessage | undefined {
  const fields: Record<string, string> = {};
  const comments: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(':')) {
      comments.push(line.slice(1).trimStart());
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    fields[name] =
      name === 'data' && fields.data !== undefined ? `${fields.data}\n${value}` : value;
  }
  if (Object.keys(fields).length === 0 && comments.length === 0) return undefined;
  return { id: fields.id, event: fields.event, data: fields.data, comments };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No SSE data within the time allowed`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
