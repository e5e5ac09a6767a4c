import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { FollowRequestDto } from './dto/follow-request.dto';

const ERROR = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } };

/** GET /replication's body; docs/REPLICATION.md describes every field. */
const STATUS = {
  type: 'object',
  required: ['role', 'historyId', 'epoch', 'revision', 'nodeId', 'discardedRevisions'],
  properties: {
    role: { type: 'string', enum: ['leader', 'follower'] },
    historyId: { type: 'string', nullable: true },
    epoch: { type: 'integer', description: 'The history’s place in the order of promotions' },
    revision: { type: 'integer' },
    nodeId: { type: 'string' },
    discardedRevisions: {
      type: 'integer',
      description: 'Revisions this node discarded (fencing) since it started',
    },
    discardedFile: { type: 'string', description: 'Where the last discarded ones were saved' },
    previous: {
      type: 'object',
      nullable: true,
      description: 'Leader: the history this one continues, and the switch revision',
      properties: { historyId: { type: 'string' }, revision: { type: 'integer' } },
    },
    followers: { type: 'array', description: 'Leader: its followers', items: { type: 'object' } },
    state: {
      type: 'string',
      enum: ['connecting', 'full-resync', 'streaming', 'refused', 'stopped'],
      description: 'Follower: the link to its leader',
    },
    leader: { type: 'object', description: 'Follower: its leader as it last heard of it' },
  },
  additionalProperties: true,
};

const TOKEN =
  'Needs Authorization: Bearer <REPLICATION_TOKEN> when it is set, else <AUTH_TOKEN> when that is set.';

export const ApiReplicationStatus = () =>
  applyDecorators(
    ApiOperation({
      summary: 'This node’s role, history and replication state',
      description: 'Open under the /metrics rule (METRICS_PUBLIC).',
    }),
    ApiResponse({ status: 200, description: 'The status', schema: STATUS }),
  );

export const ApiPromote = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Make this follower the leader',
      description:
        'Stops following, starts a new history one epoch up that continues the old one at the ' +
        'revision this node applied (followers of the old leader at or before it continue ' +
        'without a full copy), starts the expiry sweep and accepts writes. On a leader: no ' +
        `change. ${TOKEN}`,
    }),
    ApiResponse({ status: 200, description: 'The node now leads: its status', schema: STATUS }),
    ApiResponse({ status: 401, description: 'Missing or wrong token', schema: ERROR }),
    ApiResponse({
      status: 409,
      description: 'The follower holds no copy of a leader’s data yet',
      schema: ERROR,
    }),
  );

export const ApiFollow = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Make this node a follower of another leader',
      description:
        'At run time, as REPLICA_OF at start (not kept across a restart: set REPLICA_OF too). ' +
        'A leader stops taking writes and sweeping, and ends the streams it serves. Revisions ' +
        'it committed after the point where the new leader’s history forked from its own are ' +
        'saved to a discarded-revisions file in DATA_DIR and discarded (fencing). A leader ' +
        `whose history is older than this node’s is refused. ${TOKEN}`,
    }),
    ApiBody({ type: FollowRequestDto }),
    ApiResponse({ status: 200, description: 'The node now follows: its status', schema: STATUS }),
    ApiResponse({ status: 400, description: 'Not a leader URL', schema: ERROR }),
    ApiResponse({ status: 401, description: 'Missing or wrong token', schema: ERROR }),
    ApiResponse({ status: 409, description: 'The URL reaches this node itself', schema: ERROR }),
  );
