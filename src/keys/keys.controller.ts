import { Body, Controller, Delete, Get, Header, Put, Query } from '@nestjs/common';
import { InvalidArgumentError } from '../kv/kv.errors';
import { KeyListing, KvService, KvStats } from '../kv/kv.service';
import { parseJsonBody } from './json-body';
import { ExpiryView, expiryView, getBody, JSON_CONTENT_TYPE, putBody } from './key-responses';
import { PathKey } from './path-key';
import { parseFlag, parseInteger, parseSeconds, parseText } from './query-params';

// The prefix alone is routed too, so that an empty key gets a 400 that says so.
const KEY_ROUTE = 'key{/*key}';
const TTL_ROUTE = 'ttl{/*key}';

/** Translates HTTP to KvService calls and back; every rule about keys lives in the service. */
@Controller()
export class KeysController {
  constructor(private readonly kv: KvService) {}

  @Get(KEY_ROUTE)
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async get(@PathKey('/key/') key: string, @Query('meta') meta?: unknown): Promise<string> {
    const wantsMeta = parseFlag('meta', meta);
    const record = await this.kv.get(key);
    return getBody(record, this.kv.remainingTtl(record), wantsMeta);
  }

  @Put(KEY_ROUTE)
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async put(
    @PathKey('/key/') key: string,
    @Body() body: unknown,
    @Query('ttl') ttl?: unknown,
    @Query('keepTtl') keepTtl?: unknown,
  ): Promise<string> {
    const ttlSeconds = parseSeconds('ttl', ttl);
    const options = { ttlSeconds, keepTtl: parseFlag('keepTtl', keepTtl) };
    const { record } = await this.kv.put(key, parseJsonBody(body), options);
    // Echo the ttl as asked (to the millisecond), not as reduced by the time the write took.
    const answeredTtl =
      ttlSeconds === undefined
        ? this.kv.remainingTtl(record!)
        : Math.round(ttlSeconds * 1000) / 1000;
    return putBody(record!, answeredTtl);
  }

  @Delete(KEY_ROUTE)
  async delete(@PathKey('/key/') key: string): Promise<{ success: true; key: string }> {
    await this.kv.delete(key);
    return { success: true, key };
  }

  @Get('keys')
  async list(
    @Query('pattern') pattern?: unknown,
    @Query('limit') limit?: unknown,
    @Query('cursor') cursor?: unknown,
  ): Promise<KeyListing> {
    return this.kv.listKeys({
      pattern: parseText('pattern', pattern),
      limit: parseInteger('limit', limit),
      cursor: parseText('cursor', cursor),
    });
  }

  @Get(TTL_ROUTE)
  async getTtl(@PathKey('/ttl/') key: string): Promise<{ key: string } & ExpiryView> {
    const record = await this.kv.get(key);
    return { key, ...expiryView(record, this.kv.remainingTtl(record)) };
  }

  @Put(TTL_ROUTE)
  async setTtl(
    @PathKey('/ttl/') key: string,
    @Body() body: unknown,
  ): Promise<{ success: true; key: string } & ExpiryView> {
    const ttlSeconds = parseTtlBody(parseJsonBody(body));
    const { record } = await this.kv.setTtl(key, ttlSeconds);
    return { success: true, key, ...expiryView(record!, this.kv.remainingTtl(record!)) };
  }

  @Get('stats')
  async stats(): Promise<KvStats> {
    return this.kv.stats();
  }
}

function parseTtlBody(json: string): number | null {
  const body: unknown = JSON.parse(json);
  const ttl = (body as { ttl?: unknown } | null)?.ttl;
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  if (!isObject || Object.keys(body).length !== 1 || (ttl !== null && typeof ttl !== 'number')) {
    throw new InvalidArgumentError('Body must be {"ttl": seconds} or {"ttl": null}');
  }
  return ttl as number | null;
}
