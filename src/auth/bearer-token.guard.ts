import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { AuthenticationError } from './authentication.error';
import { Access, ACCESS } from './public.decorator';

/**
 * Installed only when AUTH_TOKEN is set (AuthModule): every route not marked @Public() needs `Authorization: Bearer <token>`.
 * Tokens are compared as SHA-256 digests with timingSafeEqual: equal lengths, constant time,
 * so neither the length nor a prefix of the token leaks through response timing.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly expected: Buffer;
  private readonly metricsPublic: boolean;

  constructor(
    private readonly reflector: Reflector,
    config: ConfigService<AppConfig, true>,
  ) {
    const token = config.get('authToken', { infer: true });
    if (token === null) throw new Error('BearerTokenGuard needs AUTH_TOKEN');
    this.expected = digest(token);
    this.metricsPublic = config.get('metricsPublic', { infer: true });
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, targets);
    if (access === 'public' || (access === 'metrics' && this.metricsPublic)) return true;
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
