import { ApiProperty } from '@nestjs/swagger';
import { IsNumber, ValidateIf } from 'class-validator';

/** The body of PUT /ttl: the range of `ttl` is the domain's rule, shared with ?ttl= and POST /txn. */
export class TtlBodyDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 30,
    description: 'Seconds until the key expires (0.001 to 315360000); null removes the expiry',
  })
  @ValidateIf((body: TtlBodyDto) => body.ttl !== null)
  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: 'must be a number of seconds, or null' },
  )
  ttl!: number | null;
}
