import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from '../auth/authentication.error';
import { AppConfig } from '../config/app-config';

/**
 * The replication endpoints need REPLICATION_TOKEN when it is set, else AUTH_TOKEN when that
 * is set, else nothing (protected mode still applies). Compared as digests in constant time,
 * as the bearer-token guard does.
 */
@Injectable()
export class ReplicationAccessGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(config: ConfigService<AppConfig, true>) {
    const token =
      config.get('replicationToken', { infer: true }) ?? config.get('authToken', { infer: true });
    this.expected = token === null ? undefined : digest(token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) return true;
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    if (match === null) throw new AuthenticationError('Missing bearer token');
    if (!timingSafeEqual(digest(match[1]), this.expected)) {
      throw new AuthenticationError('Invalid bearer token');
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
