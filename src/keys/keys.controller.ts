import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  Put,
  Req,
  Res,
  StreamableFile,
} from '@nestjs/common';
import type { Socket } from 'node:net';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DtoValidationPipe } from '../common/pipes/dto-validation.pipe';
import { NoQueryParametersDto } from '../common/query/no-query-parameters.dto';
import { ValidQuery } from '../common/query/valid-query.decorator';
import { bufferBudgetOf } from '../http/buffer-budget';
import { KeyListing, KvService, KvStats } from '../kv/kv.service';
import { ReplicatedWrites, WriteRequest } from '../replication/replicated-writes.service';
import {
  existingKeyCondition,
  notModifiedCheck,
  Preconditions,
  putCondition,
} from './conditional-headers';
import { GetKeyQueryDto, PutKeyQueryDto } from './dto/key-query.dto';
import { ListKeysQueryDto } from './dto/list-keys-query.dto';
import { ReadQueryDto } from './dto/read-query.dto';
import { TtlBodyDto } from './dto/ttl-body.dto';
import { parseJsonBody } from './json-body';
import { JsonBodyPipe } from './json-body.pipe';
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

// The prefix alone is routed too, so that an empty key gets a 400 that says so.
const KEY_ROUTE = 'key{/*key}';
const TTL_ROUTE = 'ttl{/*key}';

/** Translates HTTP to KvService calls and back; every rule about keys lives in the service. */
@ApiTags('Keys')
@ApiBearerAuth()
@Controller()
export class KeysController {
  constructor(
    private readonly kv: KvService,
    private readonly writes: ReplicatedWrites,
  ) {}

  @Get(KEY_ROUTE)
  @ApiGetKey()
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async get(
    @PathKey('/key/') key: string,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @ValidQuery() query: GetKeyQueryDto,
  ): Promise<string | undefined> {
    const isNotModified = notModifiedCheck(preconditions);
    if (query.minRevision !== undefined) await this.kv.awaitRevision(query.minRevision);
    const { record, revision } = await this.kv.get(key);
    sendRevisions(answer, revision, record);
    if (isNotModified(record.modRevision)) {
      answer.status(304);
      return undefined;
    }
    return getBody(record, this.kv.remainingTtl(record), query.meta ?? false);
  }

  @Put(KEY_ROUTE)
  @ApiPutKey()
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async put(
    @Req() request: WriteRequest,
    @PathKey('/key/') key: string,
    @Body() body: unknown,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @ValidQuery() query: PutKeyQueryDto,
  ): Promise<string> {
    const write = this.writes.admit(request);
    const ttlSeconds = query.ttl;
    const condition = putCondition(preconditions);
    const options = { ttlSeconds, keepTtl: query.keepTtl, condition };
    const { record, revision } = await this.kv.put(key, parseJsonBody(body), options);
    sendRevisions(answer, revision, record);
    // Echo the ttl as asked (to the millisecond), not as reduced by the time the write took;
    // a remaining ttl is the one at the write, not after the followers acknowledged it.
    const answeredTtl =
      ttlSeconds === undefined
        ? this.kv.remainingTtl(record!)
        : Math.round(ttlSeconds * 1000) / 1000;
    const written = putBody(record!, answeredTtl);
    await write.acknowledged(revision, answer);
    return written;
  }

  @Delete(KEY_ROUTE)
  @ApiDeleteKey()
  async delete(
    @Req() request: WriteRequest,
    @PathKey('/key/') key: string,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @ValidQuery() _query: NoQueryParametersDto,
  ): Promise<{ success: true; key: string }> {
    const write = this.writes.admit(request);
    const { revision } = await this.kv.delete(key, existingKeyCondition(preconditions));
    sendRevisions(answer, revision, null);
    await write.acknowledged(revision, answer);
    return { success: true, key };
  }

  @Get('keys')
  @ApiListKeys()
  async list(
    @Req() request: { readonly socket: Socket },
    @ValidQuery() query: ListKeysQueryDto,
  ): Promise<KeyListing | StreamableFile> {
    if (query.minRevision !== undefined) await this.kv.awaitRevision(query.minRevision);
    // The classic unpaged listing can be as large as the store: streamed, not one string.
    if (query.limit === undefined && query.cursor === undefined) {
      const hold = bufferBudgetOf(request.socket)?.holdFor(request.socket);
      return streamedListing(this.kv.listAllKeys(query.pattern), hold);
    }
    return this.kv.listKeys(query);
  }

  @Get(TTL_ROUTE)
  @ApiGetTtl()
  async getTtl(
    @PathKey('/ttl/') key: string,
    @ValidQuery() query: ReadQueryDto,
  ): Promise<{ key: string } & ExpiryView> {
    if (query.minRevision !== undefined) await this.kv.awaitRevision(query.minRevision);
    const { record } = await this.kv.get(key);
    return { key, ...expiryView(record, this.kv.remainingTtl(record)) };
  }

  @Put(TTL_ROUTE)
  @ApiPutTtl()
  async setTtl(
    @Req() request: WriteRequest,
    @PathKey('/ttl/') key: string,
    @Body(JsonBodyPipe, DtoValidationPipe) body: TtlBodyDto,
    @Preconditions() preconditions: Preconditions,
    @Res({ passthrough: true }) answer: AnswerHead,
    @ValidQuery() _query: NoQueryParametersDto,
  ): Promise<{ success: true; key: string } & ExpiryView> {
    const write = this.writes.admit(request);
    const condition = existingKeyCondition(preconditions);
    const { record, revision } = await this.kv.setTtl(key, body.ttl, condition);
    sendRevisions(answer, revision, record);
    const written = {
      success: true as const,
      key,
      ...expiryView(record!, this.kv.remainingTtl(record!)),
    };
    await write.acknowledged(revision, answer);
    return written;
  }

  @Get('stats')
  @ApiStats()
  async stats(@ValidQuery() query: ReadQueryDto): Promise<KvStats> {
    if (query.minRevision !== undefined) await this.kv.awaitRevision(query.minRevision);
    return this.kv.stats();
  }
}
