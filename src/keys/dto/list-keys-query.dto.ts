import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryInteger, QueryText } from '../../common/query/query-fields';
import { ReadQueryDto } from './read-query.dto';

/** The query of GET /keys. */
export class ListKeysQueryDto extends ReadQueryDto {
  @ApiPropertyOptional({
    type: String,
    description:
      'Redis glob: * ? [abc] [a-z] [^a] \\x. A run after * that is not all literal may ' +
      "cost at most 32 (1 per character or '?', a class its members), else 400.",
  })
  @QueryText()
  pattern?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10000, description: 'Page size' })
  @QueryInteger()
  limit?: number;

  @ApiPropertyOptional({ type: String, description: 'nextCursor of the previous page' })
  @QueryText()
  cursor?: string;
}
