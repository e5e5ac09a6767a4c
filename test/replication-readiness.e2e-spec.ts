import { http } from './support/http-client';
import {
  leaderPort,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { ServerProcess, startServerProcess } from './support/server-process';

jest.setTimeout(60_000);

describe('replication: a follower’s readiness', () => {
  const nodes: ServerProcess[] = [];

  afterEach(async () => {
    for (const node of nodes) node.child.kill('SIGCONT');
    await Promise.all(nodes.splice(0).map((node) => node.stop('SIGKILL')));
  });

  it('is not ready before it holds a copy of the leader’s data, though alive', async () => {
    // Nothing listens there: the follower keeps retrying.
    const follower = await startFollower(`http://127.0.0.1:${leaderPort()}`);
    nodes.push(follower);
    const ready = await http(follower.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({
      details: {
        replication: { status: 'down', reason: expect.stringMatching(/No copy of the leader/) },
      },
    });
    expect((await http(follower.url, 'GET', '/health')).status).toBe(200);
    await waitFor('a failed attempt', async () => {
      return (
        (await replicationStatus(follower.url)).state === 'connecting' &&
        /ECONNREFUSED/.test(follower.output())
      );
    });
  });

  it('stops being ready once it lags more than REPLICA_MAX_LAG_S, and is ready again once caught up', async () => {
    const leader = await startServerProcess({});
    nodes.push(leader);
    const follower = await startFollower(leader.url, { REPLICA_MAX_LAG_S: '1' });
    nodes.push(follower);
    await waitFor(
      'readiness',
      async () => (await http(follower.url, 'GET', '/health/ready')).status === 200,
    );
    leader.child.kill('SIGSTOP');
    const notReady = await waitFor('the lag to show', async () => {
      const answer = await http(follower.url, 'GET', '/health/ready');
      return answer.status === 503 && answer;
    });
    expect(notReady.text).toMatch(/s behind the leader at .*REPLICA_MAX_LAG_S 1/);
    // Reads keep being answered meanwhile.
    expect((await http(follower.url, 'GET', '/keys')).status).toBe(200);
    leader.child.kill('SIGCONT');
    await http(leader.url, 'PUT', '/key/after', '1');
    await waitFor(
      'readiness again',
      async () => (await http(follower.url, 'GET', '/health/ready')).status === 200,
    );
    expect((await http(follower.url, 'GET', '/key/after')).status).toBe(200);
  });
});
