import { http } from './support/http-client';
import {
  converged,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { ServerProcess, startServerProcess } from './support/server-process';

jest.setTimeout(120_000);

const MAX_VALUE_BYTES = 1024 * 1024;

describe('replication: large values and a follower that cannot keep up', () => {
  const nodes: ServerProcess[] = [];

  afterAll(async () => {
    for (const node of nodes) node.child.kill('SIGCONT');
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
  });

  it('replicates values of MAX_VALUE_BYTES, cuts off a frozen follower at its buffer, which then resumes', async () => {
    const leader = await startServerProcess({ REPLICATION_BUFFER_BYTES: String(1024 * 1024) });
    nodes.push(leader);
    const follower = await startFollower(leader.url);
    nodes.push(follower);
    await waitFor('the follower to stream', async () => {
      return (await replicationStatus(follower.url)).state === 'streaming';
    });
    // A JSON string of exactly MAX_VALUE_BYTES bytes, quotes included.
    const largest = (fill: string) => `"${fill.repeat(MAX_VALUE_BYTES - 2)}"`;
    expect((await http(leader.url, 'PUT', '/key/large', largest('a'))).status).toBe(200);
    await converged(leader.url, [follower.url]);

    follower.child.kill('SIGSTOP');
    for (let i = 0; i < 40; i++) {
      const answer = await http(leader.url, 'PUT', `/key/large${i % 4}`, largest(String(i % 10)));
      expect(answer.status).toBe(200);
    }
    await waitFor('the leader to cut the follower off', async () =>
      /cut off \(more than 1048576 bytes behind/.test(leader.output()),
    );
    follower.child.kill('SIGCONT');
    await converged(leader.url, [follower.url], 60_000);
    const status = await replicationStatus(follower.url);
    expect(status.leader!.connected).toBe(true);
    expect(status.partialResyncs! + status.fullResyncs!).toBeGreaterThan(1);
  });
});
