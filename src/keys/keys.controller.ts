import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  Put,
  Query,
  Req,
  Res,
  StreamableFile,
} from '@nestjs/common';
import type { Socket } from 'node:net';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { bufferBudgetOf } from '../http/buffer-budget';
import { InvalidArgumentError } from '../kv/kv.errors';
import { KeyListing, KvService, KvStats } from '../kv/kv.service';
import {
  existingKeyCondition,
  notModifiedCheck,
  Preconditions,
  putCondition,
} from './conditional-headers';
import { parseJsonBody } from './json-body';
import {
  AnswerHead,
  ExpiryView,
  expiryView,
  getBody,
  JSON_CONTENT_TYPE,
  putBody,
  sendRevisions,
} from './key-responses';
import {
  ApiDeleteKey,
  ApiGetKey,
  ApiGetTtl,
  ApiListKeys,
  ApiPutKey,
  ApiPutTtl,
  ApiStats,
} from './keys.openapi';
import { streamedListing } from './listing-stream';
import { PathKey } from './path-key';
import { QueryText } from './query-text';
import { parseFlag, parseInteger, parseSeconds, parseText } from './query-params';

// The prefix alone is routed too, so that an empty key gets a 400 that says so.
const KEY_ROUTE = 'key{/*key}';
const TTL_ROUTE = 'ttl{/*key}';

/** Translates HTTP to KvService calls and back; every rule about keys lives in the service. */
@ApiTags('Keys')
@ApiBearerAuth()
@Controller()
export class KeysController {
  constructor(private readonly kv: KvService) {}

  @Get(KEY_ROUTE)
  @ApiGetKey()
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async get(
    @PathKey('/key/') key: string,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @Query('meta') meta?: unknown,
  ): Promise<string | undefined> {
    const wantsMeta = parseFlag('meta', meta);
    const isNotModified = notModifiedCheck(preconditions);
    const { record, revision } = await this.kv.get(key);
    sendRevisions(answer, revision, record);
    if (isNotModified(record.modRevision)) {
      answer.status(304);
      return undefined;
    }
    return getBody(record, this.kv.remainingTtl(record), wantsMeta);
  }

  @Put(KEY_ROUTE)
  @ApiPutKey()
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async put(
    @PathKey('/key/') key: string,
    @Body() body: unknown,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @Query('ttl') ttl?: unknown,
    @Query('keepTtl') keepTtl?: unknown,
  ): Promise<string> {
    const ttlSeconds = parseSeconds('ttl', ttl);
    const condition = putCondition(preconditions);
    const options = { ttlSeconds, keepTtl: parseFlag('keepTtl', keepTtl), condition };
    const { record, revision } = await this.kv.put(key, parseJsonBody(body), options);
    sendRevisions(answer, revision, record);
    // Echo the ttl as asked (to the millisecond), not as reduced by the time the write took.
    const answeredTtl =
      ttlSeconds === undefined
        ? this.kv.remainingTtl(record!)
        : Math.round(ttlSeconds * 1000) / 1000;
    return putBody(record!, answeredTtl);
  }

  @Delete(KEY_ROUTE)
  @ApiDeleteKey()
  async delete(
    @PathKey('/key/') key: string,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
  ): Promise<{ success: true; key: string }> {
    const { revision } = await this.kv.delete(key, existingKeyCondition(preconditions));
    sendRevisions(answer, revision, null);
    return { success: true, key };
  }

  @Get('keys')
  @ApiListKeys()
  async list(
    @Req() request: { readonly socket: Socket },
    @QueryText('pattern') pattern?: string,
    @Query('limit') limit?: unknown,
    @Query('cursor') cursor?: unknown,
  ): Promise<KeyListing | StreamableFile> {
    const query = {
      pattern,
      limit: parseInteger('limit', limit),
      cursor: parseText('cursor', cursor),
    };
    // The classic unpaged listing can be as large as the store: streamed, not one string.
    if (query.limit === undefined && query.cursor === undefined) {
      const hold = bufferBudgetOf(request.socket)?.holdFor(request.socket);
      return streamedListing(this.kv.listAllKeys(query.pattern), hold);
    }
    return this.kv.listKeys(query);
  }

  @Get(TTL_ROUTE)
  @ApiGetTtl()
  async getTtl(@PathKey('/ttl/') key: string): Promise<{ key: string } & ExpiryView> {
    const { record } = await this.kv.get(key);
    return { key, ...expiryView(record, this.kv.remainingTtl(record)) };
  }

  @Put(TTL_ROUTE)
  @ApiPutTtl()
  async setTtl(
    @PathKey('/ttl/') key: string,
    @Body() body: unknown,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
  ): Promise<{ success: true; key: string } & ExpiryView> {
    const condition = existingKeyCondition(preconditions);
    const ttlSeconds = parseTtlBody(parseJsonBody(body));
    const { record, revision } = await this.kv.setTtl(key, ttlSeconds, condition);
    sendRevisions(answer, revision, record);
    return { success: true, key, ...expiryView(record!, this.kv.remainingTtl(record!)) };
  }

  @Get('stats')
  @ApiStats()
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
