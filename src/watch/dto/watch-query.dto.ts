import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryInteger, QueryText } from '../../common/query/query-fields';
import { ReadQueryDto } from '../../keys/dto/read-query.dto';
import { REVISION_RULE } from '../../kv/kv.service';

/** The query of GET /watch. */
export class WatchQueryDto extends ReadQueryDto {
  @ApiPropertyOptional({ type: String, description: 'Only keys matching this glob (as GET /keys)' })
  @QueryText()
  pattern?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'The first revision to send (0 as 1); Last-Event-ID takes precedence',
  })
  @QueryInteger(REVISION_RULE)
  fromRevision?: number;
}
