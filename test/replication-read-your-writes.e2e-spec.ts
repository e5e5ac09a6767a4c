import { http } from './support/http-client';
import { replicationStatus, startFollower, waitFor } from './support/replication-cluster';
import { ServerProcess, startServerProcess } from './support/server-process';

jest.setTimeout(60_000);

describe('replication: read your writes on a follower (?minRevision)', () => {
  const nodes: ServerProcess[] = [];
  let leader: ServerProcess;
  let follower: ServerProcess;

  beforeAll(async () => {
    leader = await startServerProcess({});
    nodes.push(leader);
    follower = await startFollower(leader.url, { REPLICA_READ_WAIT_MS: '300' });
    nodes.push(follower);
    await waitFor('the follower to stream', async () => {
      return (await replicationStatus(follower.url)).state === 'streaming';
    });
  });

  afterAll(async () => {
    for (const node of nodes) node.child.kill('SIGCONT');
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
  });

  it('never answers older data than the write whose revision it is given', async () => {
    for (let i = 0; i < 100; i++) {
      const write = await http(leader.url, 'PUT', '/key/mine', JSON.stringify(i));
      const revision = write.headers.get('x-kv-revision');
      const read = await http(follower.url, 'GET', `/key/mine?minRevision=${revision}`);
      expect(read.status).toBe(200);
      expect(read.json).toEqual({ key: 'mine', value: i });
    }
  });

  it('answers 503 once REPLICA_READ_WAIT_MS has passed while replication is frozen', async () => {
    leader.child.kill('SIGSTOP');
    try {
      const applied = (await replicationStatus(follower.url)).revision;
      const started = Date.now();
      const read = await http(follower.url, 'GET', `/key/mine?minRevision=${applied + 1}`);
      const waited = Date.now() - started;
      expect(read.status).toBe(503);
      expect(read.json).toMatchObject({ revision: applied });
      expect(waited).toBeGreaterThanOrEqual(290);
      // Bounded, not timed: the wait is REPLICA_READ_WAIT_MS, far below this.
      expect(waited).toBeLessThan(5000);
    } finally {
      leader.child.kill('SIGCONT');
    }
  });
});
