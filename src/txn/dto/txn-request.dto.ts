import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  Allow,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsString,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';

const ANY_JSON = 'Any JSON value, compared or stored as canonical JSON (as PUT /key stores it)';
const OPS = ['put', 'delete', 'get'] as const;

const isSet = (name: string) => (object: object) =>
  (object as Record<string, unknown>)[name] !== undefined;

/** The field is present on a put and on nothing else (`value`, `ttl`, `keepTtl`). */
function PutOnly(required: boolean) {
  return ValidateBy({
    name: 'putOnly',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        const isPut = (args?.object as TxnOpDto | undefined)?.op === 'put';
        return isPut ? value !== undefined || !required : value === undefined;
      },
      defaultMessage: (args?: ValidationArguments) =>
        (args?.object as TxnOpDto | undefined)?.op === 'put'
          ? 'a put needs a value'
          : `only a put has ${args?.property}`,
    },
  });
}

function GetOnly() {
  return ValidateBy({
    name: 'getOnly',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) =>
        value === undefined || (args?.object as TxnOpDto | undefined)?.op === 'get',
      defaultMessage: (args?: ValidationArguments) => `only a get has ${args?.property}`,
    },
  });
}

export class TxnCompareDto {
  @ApiProperty({ example: 'account:a' })
  @IsString({ message: 'must be a string' })
  key!: string;

  @ApiPropertyOptional({ description: 'Equals the key’s modRevision (0: the key is absent)' })
  @ValidateIf(isSet('modRevision'))
  @IsInt({ message: 'must be an integer from 0' })
  @Min(0, { message: 'must be an integer from 0' })
  modRevision?: number;

  @ApiPropertyOptional({ description: 'Equals the key’s createRevision (0: the key is absent)' })
  @ValidateIf(isSet('createRevision'))
  @IsInt({ message: 'must be an integer from 0' })
  @Min(0, { message: 'must be an integer from 0' })
  createRevision?: number;

  @ApiPropertyOptional({ description: 'Equals the key’s version (0: the key is absent)' })
  @ValidateIf(isSet('version'))
  @IsInt({ message: 'must be an integer from 0' })
  @Min(0, { message: 'must be an integer from 0' })
  version?: number;

  @ApiPropertyOptional({ description: 'true: the key exists; false: it is absent' })
  @ValidateIf(isSet('exists'))
  @IsBoolean({ message: 'must be true or false' })
  exists?: boolean;

  @ApiPropertyOptional({ description: ANY_JSON })
  @Allow()
  value?: unknown;
}

export class TxnOpDto {
  @ApiProperty({ enum: OPS })
  @IsIn(OPS, { message: `must be one of ${OPS.join(', ')}` })
  op!: (typeof OPS)[number];

  @ApiProperty({ example: 'account:a' })
  @IsString({ message: 'must be a string' })
  key!: string;

  @ApiPropertyOptional({ description: `put only, required: ${ANY_JSON}` })
  @PutOnly(true)
  value?: unknown;

  @ApiPropertyOptional({ description: 'put only: seconds until the key expires (as ?ttl=)' })
  @PutOnly(false)
  @ValidateIf(isSet('ttl'))
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a number of seconds' })
  ttl?: number;

  @ApiPropertyOptional({ description: 'put only: keep the key’s current expiry (as ?keepTtl=)' })
  @PutOnly(false)
  @ValidateIf(isSet('keepTtl'))
  @IsBoolean({ message: 'must be true or false' })
  keepTtl?: boolean;

  @ApiPropertyOptional({ description: 'get only: add createRevision, modRevision, version' })
  @GetOnly()
  @ValidateIf(isSet('meta'))
  @IsBoolean({ message: 'must be true or false' })
  meta?: boolean;
}

/**
 * The body of POST /txn (docs/API.md, "Transactions"). TxnBody makes its entries instances of
 * TxnCompareDto and TxnOpDto (no class-transformer: values stay as parsed).
 */
export class TxnRequestDto {
  @ApiPropertyOptional({ type: [TxnCompareDto], description: 'All must hold for success to run' })
  @ValidateIf(isSet('compare'))
  @IsArray({ message: 'must be an array' })
  @ValidateNested({ each: true, message: 'every entry must be an object' })
  compare?: TxnCompareDto[];

  @ApiPropertyOptional({ type: [TxnOpDto], description: 'Runs when every compare holds' })
  @ValidateIf(isSet('success'))
  @IsArray({ message: 'must be an array' })
  @ValidateNested({ each: true, message: 'every entry must be an object' })
  success?: TxnOpDto[];

  @ApiPropertyOptional({ type: [TxnOpDto], description: 'Runs when a compare fails' })
  @ValidateIf(isSet('failure'))
  @IsArray({ message: 'must be an array' })
  @ValidateNested({ each: true, message: 'every entry must be an object' })
  failure?: TxnOpDto[];
}
