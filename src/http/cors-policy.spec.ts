import { AppConfig } from '../config/app-config';
import { AnyOriginCors, corsOptions } from './cors-policy';
import { apiSecurityHeaders, securityHeadersFor } from './security-headers';

describe('AnyOriginCors', () => {
  const cors = new AnyOriginCors();
  const security = apiSecurityHeaders(false);

  it('adds to a security set what @fastify/cors sends for origin * on every answer', () => {
    expect(cors.answer(security)).toEqual({
      ...security,
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'ETag, X-Kv-Revision',
    });
  });

  it('answers a preflight with the methods and request headers the API accepts, and no body', () => {
    expect(cors.preflight(security)).toMatchObject({
      ...security,
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, PUT, DELETE, POST',
      'access-control-allow-headers':
        'Content-Type, Authorization, If-Match, If-None-Match, Last-Event-ID',
      'content-length': '0',
    });
  });

  it('merges each security set once, keeping the Swagger UI pages their own set', () => {
    const docs = securityHeadersFor('/docs', false);
    expect(cors.answer(security)).toBe(cors.answer(security));
    expect(cors.answer(docs)).not.toBe(cors.answer(security));
    expect(cors.answer(docs)['content-security-policy']).toBe(docs['content-security-policy']);
    expect(Object.isFrozen(cors.answer(docs))).toBe(true);
  });
});

describe('corsOptions', () => {
  it('passes a list of origins on, trimmed, and * as *', () => {
    const options = (origin: string) => corsOptions({ corsOrigin: origin } as AppConfig).origin;
    expect(options('*')).toBe('*');
    expect(options('https://a.test, https://b.test')).toEqual(['https://a.test', 'https://b.test']);
  });
});
