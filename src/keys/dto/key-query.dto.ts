import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryFlag, QuerySeconds, RefusesUnknownParameters } from '../../common/query/query-fields';
import { ReadQueryDto } from './read-query.dto';

/** The query of GET /key. */
export class GetKeyQueryDto extends ReadQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    description: 'true: add createRevision, modRevision, version',
  })
  @QueryFlag()
  meta?: boolean;
}

/** The query of PUT /key: a write, so an unknown parameter is refused. */
@RefusesUnknownParameters()
export class PutKeyQueryDto {
  @ApiPropertyOptional({
    type: Number,
    minimum: 0.001,
    maximum: 315360000,
    description: 'Seconds until the key expires (0.001 to 315360000, plain decimal notation)',
  })
  @QuerySeconds()
  ttl?: number;

  @ApiPropertyOptional({ type: Boolean, description: 'true: keep the current expiry' })
  @QueryFlag()
  keepTtl?: boolean;
}
