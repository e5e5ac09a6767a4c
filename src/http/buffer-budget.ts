import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { apiSecurityHeaders } from './security-headers';

/** Thrown when an answer cannot be held for its client: the budget is spent. Answered 503. */
export class BufferBudgetFullError extends Error {
  override readonly name = 'BufferBudgetFullError';

  constructor() {
    super(BUSY_MESSAGE);
  }
}

const BUSY_MESSAGE =
  'Server busy: the memory for unread answers and incomplete request bodies ' +
  '(MAX_BUFFERED_BYTES) is in use; retry shortly';

/** A connection that has made no progress for this long, holding bytes, may be cut. */
const STALLED_AFTER_MS = 1000;
/**
 * Reservations larger than this may only use the budget up to its last eighth, which stays for
 * small ones: clients holding large bodies or answers cannot crowd out ordinary requests.
 */
const LARGE_RESERVATION_BYTES = 64 * 1024;
/** How often progress is sampled and the budget is checked. */
const SWEEP_INTERVAL_MS = 250;
/**
 * A reservation that does not fit samples every connection afresh, but at most this often: a
 * burst of requests refused together (a thousand clients that never read, asking at once)
 * shares one pass over the connections instead of making one each.
 */
const RESAMPLE_AFTER_MS = 10;

interface Connection {
  readonly socket: Socket;
  /** Bytes reserved for this connection: bodies being received, answers being assembled. */
  reserved: number;
  /** Its answers not yet handed to the socket (pipelined ones wait in Node's own queue). */
  readonly responses: Set<ServerResponse>;
  /** Requests whose declared body is still arriving. */
  readonly bodies: Set<IncomingMessage>;
  /** Bytes read plus bytes the kernel took, at the last sample. */
  progress: number;
  lastProgressAt: number;
  cut: boolean;
}

/** Bytes held for one answer while it is assembled and sent; released once, by `release`. */
export interface AnswerHold {
  /** Adds bytes to the hold, or throws BufferBudgetFullError (and holds nothing more). */
  reserve(bytes: number): void;
  /** Sets the hold to `bytes`: reserves what is missing (or throws, as reserve) or gives back the rest. */
  resize(bytes: number): void;
  release(): void;
}

/**
 * One budget of bytes for everything the server holds on behalf of clients that are slow to
 * read or to send: request bodies still arriving (counted at their Content-Length, a chunked
 * one at MAX_VALUE_BYTES), answers being assembled (the unpaged listing reserves as it grows),
 * and answers written but not yet taken by the kernel (the sockets' own buffers, and Node's
 * queue of pipelined answers). Without it, a thousand clients that never read make the process
 * hold gigabytes and spend its time in the garbage collector.
 *
 * Reservations over 64 KiB may fill only seven eighths of the budget, so that ordinary small
 * requests still fit. When a reservation does not fit, connections that hold bytes and have made no progress for
 * STALLED_AFTER_MS are cut, largest first, until it does; if it still does not fit, the request
 * is refused with 503. A periodic check cuts stalled connections the same way whenever the
 * bytes held exceed the budget (answers that reserved nothing, such as a large value, count
 * once written). Connections that read and send at any pace are never cut.
 */
export class BufferBudget {
  private readonly connections = new Map<Socket, Connection>();
  private reservedTotal = 0;
  /** Bytes buffered in sockets and Node's queues, as last sampled (summing costs a pass). */
  private bufferedTotal = 0;
  private sampledAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly maxBytes: number,
    private readonly maxBodyBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Tracks the server's connections and checks the budget while it is open. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.track(socket));
    const sweep = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    sweep.unref();
    server.once('close', () => clearInterval(sweep));
  }

  /**
   * Wraps the platform's request listener: a request whose body does not fit is answered 503
   * before any of it is read, and every answer is tracked until it is done.
   */
  guard(listener: RequestListener): RequestListener {
    return (request, response) => {
      const connection = this.track(request.socket);
      const bodyBytes = this.declaredBodyBytes(request);
      if (bodyBytes > 0 && !this.tryReserve(connection, bodyBytes)) {
        refuse(response);
        return;
      }
      connection.responses.add(response);
      if (bodyBytes > 0) {
        connection.bodies.add(request);
        request.once('end', () => connection.bodies.delete(request));
      }
      response.once('close', () => {
        connection.responses.delete(response);
        connection.bodies.delete(request);
        if (bodyBytes > 0) this.release(connection, bodyBytes);
      });
      listener(request, response);
    };
  }

  /** A hold for an answer sent on `socket`. */
  holdFor(socket: Socket): AnswerHold {
    const connection = this.track(socket);
    let held = 0;
    const reserve = (bytes: number) => {
      if (!this.tryReserve(connection, bytes)) throw new BufferBudgetFullError();
      held += bytes;
    };
    return {
      reserve,
      resize: (bytes) => {
        if (bytes > held) return reserve(bytes - held);
        this.release(connection, held - bytes);
        held = bytes;
      },
      release: () => {
        this.release(connection, held);
        held = 0;
      },
    };
  }

  /** Bytes held: reserved now, plus buffered as last sampled. */
  usedBytes(): number {
    return this.reservedTotal + this.bufferedTotal;
  }

  private track(socket: Socket): Connection {
    let connection = this.connections.get(socket);
    if (connection === undefined) {
      connection = {
        socket,
        reserved: 0,
        responses: new Set(),
        bodies: new Set(),
        progress: progressOf(socket),
        lastProgressAt: this.now(),
        cut: false,
      };
      this.connections.set(socket, connection);
      (socket as BudgetedSocket)[BUDGET] = this;
      // Holds still open are released by their owners when their streams close.
      socket.once('close', () => this.connections.delete(socket));
    }
    return connection;
  }

  private declaredBodyBytes(request: IncomingMessage): number {
    const length = request.headers['content-length'];
    // Larger bodies are refused with 413 after at most maxBodyBytes + 1 bytes were read.
    if (length !== undefined) return Math.min(Number(length) || 0, this.maxBodyBytes + 1);
    return request.headers['transfer-encoding'] === undefined ? 0 : this.maxBodyBytes + 1;
  }

  private tryReserve(connection: Connection, bytes: number): boolean {
    if (connection.cut) return false;
    const limit =
      bytes > LARGE_RESERVATION_BYTES
        ? this.maxBytes - Math.floor(this.maxBytes / 8)
        : this.maxBytes;
    if (this.usedBytes() + bytes > limit) {
      this.cutStalled(bytes + this.maxBytes - limit);
      if (connection.cut || this.usedBytes() + bytes > limit) return false;
    }
    connection.reserved += bytes;
    this.reservedTotal += bytes;
    return true;
  }

  private release(connection: Connection, bytes: number): void {
    // A cut connection gave its reservations back when it was cut.
    if (connection.cut) return;
    connection.reserved -= bytes;
    this.reservedTotal -= bytes;
  }

  private sweep(): void {
    this.sampleProgress();
    if (this.usedBytes() > this.maxBytes) this.cutStalled(0);
  }

  private sampleProgress(): void {
    const now = this.now();
    this.sampledAt = now;
    let bufferedTotal = 0;
    for (const connection of this.connections.values()) {
      bufferedTotal += buffered(connection);
      const progress = progressOf(connection.socket);
      if (progress !== connection.progress) {
        connection.progress = progress;
        connection.lastProgressAt = now;
      }
    }
    this.bufferedTotal = bufferedTotal;
  }

  /** Cuts stalled connections, largest holders first, until `needed` more bytes fit. */
  private cutStalled(needed: number): void {
    // A fresh sample (of at most RESAMPLE_AFTER_MS ago): a connection that moved since the last
    // sweep is not stalled.
    if (this.now() - this.sampledAt >= RESAMPLE_AFTER_MS) this.sampleProgress();
    const stalledBefore = this.now() - STALLED_AFTER_MS;
    const stalled: Array<{ connection: Connection; holds: number }> = [];
    for (const connection of this.connections.values()) {
      if (connection.lastProgressAt > stalledBefore || !isWaitingOnClient(connection)) continue;
      stalled.push({ connection, holds: connection.reserved + buffered(connection) });
    }
    stalled.sort((a, b) => b.holds - a.holds);
    let used = this.usedBytes();
    for (const { connection, holds } of stalled) {
      if (used + needed <= this.maxBytes) return;
      this.reservedTotal -= connection.reserved;
      this.bufferedTotal -= holds - connection.reserved;
      connection.reserved = 0;
      connection.cut = true;
      this.connections.delete(connection.socket);
      connection.socket.destroy();
      used -= holds;
    }
  }
}

/**
 * The budget a connection's answers are held against, for code that holds an answer (the
 * unpaged listing). Connections the HTTP platform did not accept have none.
 */
export function bufferBudgetOf(socket: Socket): BufferBudget | undefined {
  return (socket as BudgetedSocket)[BUDGET];
}

const BUDGET = Symbol('kvstore.bufferBudget');

type BudgetedSocket = Socket & { [BUDGET]?: BufferBudget };

/** Written but not taken by the kernel: the socket's buffer and answers queued behind it. */
function buffered(connection: Connection): number {
  let bytes = connection.socket.writableLength;
  for (const response of connection.responses) {
    if (response.socket !== connection.socket) bytes += response.writableLength;
  }
  return bytes;
}

/** Output the client has not taken, or a body it has not finished sending. */
function isWaitingOnClient(connection: Connection): boolean {
  return buffered(connection) > 0 || connection.bodies.size > 0;
}

/** Bytes written count what is still buffered; what the kernel took is what progressed. */
function progressOf(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten - socket.writableLength;
}

const BUSY_BODY = JSON.stringify({ error: BUSY_MESSAGE });
// Refused below the platforms, before TRUST_PROXY could be read: the plain-HTTP set is the safe one.
const BUSY_HEADERS = apiSecurityHeaders(false);

function refuse(response: ServerResponse): void {
  response.writeHead(503, {
    ...BUSY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(BUSY_BODY),
    'retry-after': '1',
    // The body was not read: the connection cannot carry another request.
    connection: 'close',
  });
  response.end(BUSY_BODY);
}
