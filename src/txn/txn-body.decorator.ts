import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { checkDto } from '../common/pipes/dto-validation.pipe';
import { RequestValidationError } from '../common/pipes/request-validation.error';
import { parseJsonDocument } from '../keys/json-body';
import { TxnCompareDto, TxnOpDto, TxnRequestDto } from './dto/txn-request.dto';
import { requestOf } from '../common/request-of';

/**
 * `@TxnBody() body: TxnRequestDto`: the raw body of POST /txn parsed by the rules of PUT /key
 * and checked against the DTOs' class-validator decorators (checkDto, as DtoValidationPipe
 * does), every refusal a 400 naming the field (`success[2].ttl: ...`).
 *
 * Read in the decorator rather than through JsonBodyPipe and DtoValidationPipe: Nest settles
 * every pipe through promises, and class-transformer's plainToInstance copies every stored
 * `value` member by member before its @Transform could hand back the parsed one. Here each
 * entry becomes an instance of its DTO class by one shallow copy, and values stay exactly as
 * JSON.parse made them: they are data, not DTOs.
 */
export const TxnBody = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  readTxnBody(requestOf<{ body?: unknown }>(context).body),
);

export function readTxnBody(raw: unknown): TxnRequestDto {
  const document = parseJsonDocument(raw);
  if (!isJsonObject(document)) throw new RequestValidationError('body', 'must be a JSON object');
  const body = toTxnRequestDto(document);
  checkDto(body, 'body');
  return body;
}

/** A parsed body as DTO instances, not yet validated. */
export function toTxnRequestDto(document: Record<string, unknown>): TxnRequestDto {
  const body = instanceOf(TxnRequestDto, document);
  body.compare = entriesOf(TxnCompareDto, body.compare);
  body.success = entriesOf(TxnOpDto, body.success);
  body.failure = entriesOf(TxnOpDto, body.failure);
  return body;
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The members of a parsed object on an instance of `dto`. `__proto__` and `constructor` are
 * skipped, as plainToInstance skips them: set on the instance, either would change which
 * class class-validator takes it for.
 */
function instanceOf<T extends object>(dto: new () => T, members: Record<string, unknown>): T {
  const instance = new dto() as Record<string, unknown>;
  for (const name of Object.keys(members)) {
    if (name !== '__proto__' && name !== 'constructor') instance[name] = members[name];
  }
  return instance as T;
}

/**
 * A branch's entries as instances; anything else is left for the decorators to refuse (a
 * branch that is no array, an entry that is no object).
 */
function entriesOf<T extends object>(dto: new () => T, entries: unknown): T[] | undefined {
  if (!Array.isArray(entries)) return entries as T[] | undefined;
  return entries.map((entry: unknown) =>
    isJsonObject(entry) ? instanceOf(dto, entry) : entry,
  ) as T[];
}
