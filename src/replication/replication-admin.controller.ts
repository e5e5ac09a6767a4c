import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { MetricsRoute, Public } from '../auth/public.decorator';
import { DtoValidationPipe } from '../common/pipes/dto-validation.pipe';
import { normalizeHttpUrl } from '../config/http-url';
import { JsonBodyPipe } from '../keys/json-body.pipe';
import { InvalidArgumentError } from '../kv/kv.errors';
import { FollowRequestDto } from './dto/follow-request.dto';
import { ReplicationAccessGuard } from './replication-access.guard';
import { ReplicationRoles } from './replication-roles.service';
import { ReplicationStatus } from './replication-status';
import { ApiFollow, ApiPromote, ApiReplicationStatus } from './replication.openapi';

/**
 * The operator's replication routes (docs/REPLICATION.md, "Failover"): the status, open under
 * the /metrics rule, and the role changes, which take the replication token rule
 * (ReplicationAccessGuard: REPLICATION_TOKEN, else AUTH_TOKEN) and answer with the new status.
 */
@ApiTags('Replication')
@ApiBearerAuth()
@Controller('replication')
export class ReplicationAdminController {
  constructor(
    private readonly status: ReplicationStatus,
    private readonly roles: ReplicationRoles,
  ) {}

  @Get()
  @MetricsRoute()
  @ApiReplicationStatus()
  describe(): Record<string, unknown> {
    return this.status.describe();
  }

  @Post('promote')
  @Public()
  @UseGuards(ReplicationAccessGuard)
  @HttpCode(200)
  @ApiPromote()
  async promote(): Promise<Record<string, unknown>> {
    await this.roles.promote();
    return this.status.describe();
  }

  @Post('follow')
  @Public()
  @UseGuards(ReplicationAccessGuard)
  @HttpCode(200)
  @ApiFollow()
  async follow(
    @Body(JsonBodyPipe, DtoValidationPipe) body: FollowRequestDto,
  ): Promise<Record<string, unknown>> {
    const leader = normalizeHttpUrl(body.leader);
    if (leader === undefined) {
      throw new InvalidArgumentError(
        'leader must be an http:// or https:// URL such as http://leader:4000, without query or credentials',
      );
    }
    await this.roles.follow(leader);
    return this.status.describe();
  }
}
