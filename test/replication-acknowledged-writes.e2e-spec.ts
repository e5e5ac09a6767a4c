import { http } from './support/http-client';
import { replicationStatus, startFollower, waitFor } from './support/replication-cluster';
import { ServerProcess, startServerProcess } from './support/server-process';

jest.setTimeout(60_000);

const ACKED = 'x-kv-replicas-acked';

describe('replication: acknowledged writes (WRITE_REPLICAS, X-Kv-Replicas, MIN_REPLICAS)', () => {
  const nodes: ServerProcess[] = [];

  afterEach(async () => {
    for (const node of nodes) node.child.kill('SIGCONT');
    await Promise.all(nodes.splice(0).map((node) => node.stop('SIGKILL')));
  });

  /** A leader with the settings given and one in-memory follower that holds its data. */
  async function leaderWithFollower(settings: Record<string, string>) {
    const leader = await startServerProcess(settings);
    nodes.push(leader);
    const follower = await startFollower(leader.url);
    nodes.push(follower);
    await waitFor(
      'the follower to be ready',
      async () => (await http(follower.url, 'GET', '/health/ready')).status === 200,
    );
    await waitFor('the follower to acknowledge', async () => {
      const [record] = (await replicationStatus(leader.url)).followers ?? [];
      return record?.connected === true;
    });
    return { leader, follower };
  }

  it.each(['fastify', 'express'])(
    'answers a write with WRITE_REPLICAS=1 once the follower has applied it, on every write route, and no read (%s)',
    async (adapter) => {
      const { leader, follower } = await leaderWithFollower({
        HTTP_ADAPTER: adapter,
        WRITE_REPLICAS: '1',
        REPLICA_ACK_TIMEOUT_MS: '10000',
      });
      for (let round = 0; round < 20; round++) {
        const put = await http(leader.url, 'PUT', `/key/k${round}`, JSON.stringify(round));
        expect(put.status).toBe(200);
        expect(put.headers.get(ACKED)).toBe('1');
        // The acknowledgement came after the follower applied it: it reads there at once.
        const read = await http(follower.url, 'GET', `/key/k${round}`);
        expect(read.json).toMatchObject({ value: round });
      }
      const ttl = await http(leader.url, 'PUT', '/ttl/k1', JSON.stringify({ ttl: 60 }), {
        'Content-Type': 'application/json',
      });
      expect(ttl.status).toBe(200);
      expect(ttl.headers.get(ACKED)).toBe('1');
      expect((await http(follower.url, 'GET', '/ttl/k1')).json).toMatchObject({
        ttl: expect.any(Number),
      });
      const txn = await http(
        leader.url,
        'POST',
        '/txn',
        JSON.stringify({ success: [{ op: 'put', key: 'txn', value: 't' }] }),
        { 'Content-Type': 'application/json' },
      );
      expect(txn.status).toBe(200);
      expect(txn.headers.get(ACKED)).toBe('1');
      expect((await http(follower.url, 'GET', '/key/txn')).json).toMatchObject({ value: 't' });
      const removed = await http(leader.url, 'DELETE', '/key/k0');
      expect(removed.status).toBe(200);
      expect(removed.headers.get(ACKED)).toBe('1');
      expect((await http(follower.url, 'GET', '/key/k0')).status).toBe(404);
      // Reads never wait for acknowledgements, even when asked to.
      for (const path of ['/key/k1', '/keys', '/ttl/k1', '/stats']) {
        const read = await http(leader.url, 'GET', path, undefined, { 'X-Kv-Replicas': '1' });
        expect(read.status).toBe(200);
        expect(read.headers.get(ACKED)).toBeNull();
      }
    },
  );

  it.each(['fastify', 'express'])(
    'waits per request with X-Kv-Replicas, capped at the followers the leader knows (%s)',
    async (adapter) => {
      const { leader, follower } = await leaderWithFollower({
        HTTP_ADAPTER: adapter,
        REPLICA_ACK_TIMEOUT_MS: '10000',
      });
      const asynchronous = await http(leader.url, 'PUT', '/key/plain', '1');
      expect(asynchronous.status).toBe(200);
      expect(asynchronous.headers.get(ACKED)).toBeNull();

      const one = await http(leader.url, 'PUT', '/key/one', '1', { 'X-Kv-Replicas': '1' });
      expect(one.status).toBe(200);
      expect(one.headers.get(ACKED)).toBe('1');
      expect((await http(follower.url, 'GET', '/key/one')).status).toBe(200);

      // Five asked, one follower known: the cap makes it one.
      const many = await http(leader.url, 'PUT', '/key/many', '2', { 'X-Kv-Replicas': '5' });
      expect(many.status).toBe(200);
      expect(many.headers.get(ACKED)).toBe('1');

      for (const bad of ['x', '-1', '101', '1.5']) {
        const refused = await http(leader.url, 'PUT', '/key/bad', '3', { 'X-Kv-Replicas': bad });
        expect(refused.status).toBe(400);
        expect(refused.json).toEqual({ error: 'X-Kv-Replicas must be an integer from 0 to 100' });
      }
      expect((await http(leader.url, 'GET', '/key/bad')).status).toBe(404);
    },
  );

  it('answers 503 once REPLICA_ACK_TIMEOUT_MS passes with the follower frozen; the write stays on the leader', async () => {
    const { leader, follower } = await leaderWithFollower({
      WRITE_REPLICAS: '1',
      REPLICA_ACK_TIMEOUT_MS: '300',
    });
    follower.child.kill('SIGSTOP');
    const started = Date.now();
    const answer = await http(leader.url, 'PUT', '/key/frozen', '"v"');
    const waited = Date.now() - started;
    expect(answer.status).toBe(503);
    const revision = Number(answer.headers.get('x-kv-revision'));
    expect(answer.json).toEqual({
      error: 'Write committed on the leader and acknowledged by 0 of 1 followers',
      revision,
      replicas: 0,
    });
    expect(answer.headers.get(ACKED)).toBe('0');
    expect(waited).toBeGreaterThanOrEqual(290);
    // Committed and visible on the leader, as Redis's WAIT leaves it.
    const read = await http(leader.url, 'GET', '/key/frozen');
    expect(read.json).toMatchObject({ value: 'v' });
    expect(read.headers.get('etag')).toBe(`"${revision}"`);

    follower.child.kill('SIGCONT');
    await waitFor('acknowledged writes again', async () => {
      const after = await http(leader.url, 'PUT', '/key/after', '1');
      return after.status === 200 && after.headers.get(ACKED) === '1';
    });
    expect((await http(follower.url, 'GET', '/key/frozen')).json).toMatchObject({ value: 'v' });
  });

  it('answers 503 with M of N when WRITE_REPLICAS is more than the followers connected', async () => {
    const { leader } = await leaderWithFollower({
      WRITE_REPLICAS: '2',
      REPLICA_ACK_TIMEOUT_MS: '300',
    });
    const answer = await http(leader.url, 'PUT', '/key/short', '1');
    expect(answer.status).toBe(503);
    expect(answer.json).toEqual({
      error: 'Write committed on the leader and acknowledged by 1 of 2 followers',
      revision: Number(answer.headers.get('x-kv-revision')),
      replicas: 1,
    });
    expect((await http(leader.url, 'GET', '/key/short')).status).toBe(200);
  });

  it('refuses writes with MIN_REPLICAS=1 while the only follower is frozen, storing nothing, and takes them again after', async () => {
    const alone = await startServerProcess({ MIN_REPLICAS: '1' });
    nodes.push(alone);
    const lonely = await http(alone.url, 'PUT', '/key/alone', '1');
    expect(lonely.status).toBe(503);
    expect(lonely.headers.get('retry-after')).toBe('1');
    expect((await http(alone.url, 'GET', '/key/alone')).status).toBe(404);

    const { leader, follower } = await leaderWithFollower({
      MIN_REPLICAS: '1',
      MIN_REPLICAS_MAX_LAG_S: '2',
    });
    await waitFor(
      'writes taken',
      async () => (await http(leader.url, 'PUT', '/key/before', '1')).status === 200,
    );
    follower.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    let attempt = 0;
    let refused: Awaited<ReturnType<typeof http>> | undefined;
    while (Date.now() - frozenAt < 5000) {
      const answer = await http(leader.url, 'PUT', `/key/w${attempt}`, String(attempt));
      if (answer.status === 503) {
        refused = answer;
        break;
      }
      expect(answer.status).toBe(200);
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(refused).toBeDefined();
    expect(Date.now() - frozenAt).toBeLessThanOrEqual(3000);
    expect(refused!.json).toEqual({
      error:
        'Not enough followers: 0 of the 1 required (MIN_REPLICAS) are connected and ' +
        'acknowledged within 2 s; nothing was written',
    });
    // Nothing committed: the refused key is absent and the revision has not moved.
    const { revision } = await replicationStatus(leader.url);
    expect((await http(leader.url, 'GET', `/key/w${attempt}`)).status).toBe(404);
    const txn = await http(
      leader.url,
      'POST',
      '/txn',
      JSON.stringify({ success: [{ op: 'put', key: 'txn', value: 1 }] }),
      { 'Content-Type': 'application/json' },
    );
    expect(txn.status).toBe(503);
    expect((await http(leader.url, 'DELETE', '/key/before')).status).toBe(503);
    expect((await replicationStatus(leader.url)).revision).toBe(revision);
    expect((await http(leader.url, 'GET', '/key/before')).status).toBe(200);

    follower.child.kill('SIGCONT');
    await waitFor(
      'writes taken again',
      async () => (await http(leader.url, 'PUT', '/key/again', '1')).status === 200,
    );
  });
});
