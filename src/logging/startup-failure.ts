import pino from 'pino';
import pinoPretty from 'pino-pretty';
import { AppConfig } from '../config/app-config';
import {
  DataDirError,
  DataDirLockedError,
  StorageCorruptError,
} from '../storage/file/storage-errors';

/** A listen that failed, told in terms of the variables that chose the address. */
export class ListenError extends Error {
  override readonly name = 'ListenError';

  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    super(describeListenFailure(host, port, cause), { cause });
  }
}

function describeListenFailure(host: string, port: number, cause: NodeJS.ErrnoException) {
  switch (cause.code) {
    case 'EADDRINUSE':
      return `Cannot listen on HOST=${host} PORT=${port}: the port is in use by another process; set PORT to a free port (0: any)`;
    case 'EADDRNOTAVAIL':
      return `Cannot listen on HOST=${host}: it is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all of them`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `Cannot listen on HOST=${host}: no such host name (${cause.code}); set HOST to an address of this machine, or 0.0.0.0 for all of them`;
    case 'EACCES':
      return `Cannot listen on HOST=${host} PORT=${port}: permission denied (ports below 1024 need privileges); set PORT to 1024 or above`;
    default:
      return `Cannot listen on HOST=${host} PORT=${port}: ${cause.message}`;
  }
}

/** Failures whose message says all an operator needs: no stack trace. */
const EXPLAINED = [ListenError, DataDirLockedError, DataDirError, StorageCorruptError];

/**
 * Reports why the server could not start as one log line in the application's own format (a
 * JSON line, or a readable one with LOG_PRETTY), written synchronously so that it is out before
 * the process exits. The application's logger may not exist yet (its module failed to
 * build), so the line goes through a logger of its own; Nest's report of the same failure (a
 * colored stack trace) is kept out of the output by main.
 */
export function logStartupFailure(config: AppConfig, error: unknown): void {
  const logger = pino(
    { level: config.logLevel },
    config.logPretty
      ? pinoPretty({ sync: true, singleLine: true })
      : pino.destination({ dest: 1, sync: true }),
  );
  const message = error instanceof Error ? error.message : String(error);
  const explained = EXPLAINED.some((kind) => error instanceof kind);
  logger.fatal({ context: 'kvstore', ...(!explained && { err: error }) }, message);
}
