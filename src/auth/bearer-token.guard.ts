import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { checkBearerToken, tokenDigest } from './bearer-token';
import { Access, ACCESS } from './public.decorator';

/**
 * Installed only when AUTH_TOKEN is set (AuthModule): every route not marked @Public() needs
 * `Authorization: Bearer <token>`, compared in constant time (bearer-token.ts).
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
    this.expected = tokenDigest(token);
    this.metricsPublic = config.get('metricsPublic', { infer: true });
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, targets);
    if (access === 'public' || (access === 'metrics' && this.metricsPublic)) return true;
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    checkBearerToken(request.headers.authorization, this.expected);
    return true;
  }
}
