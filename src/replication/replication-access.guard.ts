import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { checkBearerToken, tokenDigest } from '../auth/bearer-token';
import { AppConfig } from '../config/app-config';

/**
 * The replication endpoints need REPLICATION_TOKEN when it is set, else AUTH_TOKEN when that
 * is set, else nothing (protected mode still applies). Compared in constant time, as every
 * bearer token is (auth/bearer-token.ts).
 */
@Injectable()
export class ReplicationAccessGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(config: ConfigService<AppConfig, true>) {
    const token =
      config.get('replicationToken', { infer: true }) ?? config.get('authToken', { infer: true });
    this.expected = token === null ? undefined : tokenDigest(token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) return true;
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    checkBearerToken(request.headers.authorization, this.expected);
    return true;
  }
}
