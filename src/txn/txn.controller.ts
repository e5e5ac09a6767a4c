import { Controller, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { NoQueryParametersDto } from '../common/query/no-query-parameters.dto';
import { ValidQuery } from '../common/query/valid-query.decorator';
import { AnswerHead, JSON_CONTENT_TYPE } from '../keys/key-responses';
import { KvService } from '../kv/kv.service';
import { ReplicatedWrites, WriteRequest } from '../replication/replicated-writes.service';
import { TxnCompareInput, TxnInput, TxnOpInput } from '../kv/transaction-input';
import { TxnCompareDto, TxnOpDto, TxnRequestDto } from './dto/txn-request.dto';
import { TxnBody } from './txn-body.decorator';
import { ApiTransaction } from './txn.openapi';
import { txnBody } from './txn-responses';

/** POST /txn: compares, then one branch of puts, deletes and gets, all or nothing. */
@ApiTags('Transactions')
@ApiBearerAuth()
@Controller()
export class TxnController {
  constructor(
    private readonly kv: KvService,
    private readonly writes: ReplicatedWrites,
  ) {}

  @Post('txn')
  @HttpCode(200)
  @ApiTransaction()
  @Header('Content-Type', JSON_CONTENT_TYPE)
  async transaction(
    @Req() request: WriteRequest,
    @TxnBody() body: TxnRequestDto,
    @Res({ passthrough: true }) answer: AnswerHead,
    @ValidQuery() _query: NoQueryParametersDto,
  ): Promise<string> {
    const write = this.writes.admit(request);
    const receipt = await this.kv.transaction(toTxnInput(body));
    answer.header('X-Kv-Revision', String(receipt.revision));
    // Remaining ttls as of the transaction, not after the followers acknowledged it.
    const ran = (receipt.succeeded ? body.success : body.failure) ?? [];
    const done = txnBody(receipt, ran, (record) => this.kv.remainingTtl(record));
    await write.acknowledged(receipt.revision, answer);
    return done;
  }
}

/** Values travel as parsed JSON in the body and as canonical JSON text in the domain. */
function toTxnInput(body: TxnRequestDto): TxnInput {
  return {
    compare: body.compare?.map(toCompareInput),
    success: body.success?.map(toOpInput),
    failure: body.failure?.map(toOpInput),
  };
}

function toCompareInput(compare: TxnCompareDto): TxnCompareInput {
  const { key, modRevision, createRevision, version, exists, value } = compare;
  return {
    key,
    modRevision,
    createRevision,
    version,
    exists,
    value: value === undefined ? undefined : JSON.stringify(value),
  };
}

function toOpInput(op: TxnOpDto): TxnOpInput {
  if (op.op !== 'put') return { op: op.op, key: op.key };
  return {
    op: 'put',
    key: op.key,
    value: JSON.stringify(op.value),
    ttlSeconds: op.ttl,
    keepTtl: op.keepTtl,
  };
}
