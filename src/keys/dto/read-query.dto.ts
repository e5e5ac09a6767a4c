import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryInteger } from '../../common/query/query-fields';
import { REVISION_RULE } from '../../kv/kv.service';

/** What every read takes (GET /key, /keys, /ttl, /stats, /watch): read your writes. */
export class ReadQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description:
      'Read your writes: answer only once this node has applied this revision (the ' +
      'X-Kv-Revision of a write), waiting at most REPLICA_READ_WAIT_MS, else 503 with the ' +
      'revision it has',
  })
  @QueryInteger(REVISION_RULE)
  minRevision?: number;
}
