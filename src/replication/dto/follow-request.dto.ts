import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';

/** The body of POST /replication/follow. */
export class FollowRequestDto {
  @ApiProperty({
    example: 'http://10.0.0.2:4000',
    description:
      'The URL of the leader to follow from now on (http:// or https://, without query or ' +
      'credentials), as REPLICA_OF at start',
  })
  @IsString({ message: 'must be the URL of the leader, such as http://leader:4000' })
  leader!: string;
}
