import { http } from './support/http-client';
import {
  converged,
  nodesOfEachTest,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { randomWorkload } from './support/replication-workload';
import { ServerProcess } from './support/server-process';

jest.setTimeout(120_000);

describe('replication: a durable follower restarting', () => {
  const { nodes, dir, start } = nodesOfEachTest('kv-repl-resync-');
  const follow = async (leader: ServerProcess) => {
    const node = await startFollower(leader.url, { STORAGE: 'file', DATA_DIR: dir() });
    nodes.push(node);
    return node;
  };

  it('resumes from the leader’s history after SIGKILL mid-stream, without a full copy', async () => {
    const leader = await start({});
    let follower = await follow(leader);
    await waitFor(
      'the first copy',
      async () => (await replicationStatus(follower.url)).state === 'streaming',
    );
    const load = randomWorkload(leader.url, { operations: 1500, workers: 6, seed: 7 });
    await waitFor(
      'some changes to arrive',
      async () => (await replicationStatus(follower.url)).revision > 100,
    );
    await follower.stop('SIGKILL');
    await load;
    follower = await follow(leader);
    await converged(leader.url, [follower.url]);
    expect(await replicationStatus(follower.url)).toMatchObject({
      fullResyncs: 0,
      partialResyncs: 1,
      leader: { connected: true },
    });
    expect(follower.output()).toMatch(/partial resync from revision \d+/);
  });

  it('takes a full copy when the history no longer holds its revision, serving the old data meanwhile', async () => {
    // About 300 small changes of history, and enough data that the copy takes a while.
    const leader = await start({ REPLICATION_HISTORY: '65536' });
    const value = JSON.stringify('x'.repeat(400));
    for (let batch = 0; batch < 600; batch++) {
      const success = Array.from({ length: 100 }, (_, i) => ({
        op: 'put',
        key: `bulk/${batch}/${i}`,
        value,
      }));
      expect((await http(leader.url, 'POST', '/txn', JSON.stringify({ success }))).status).toBe(
        200,
      );
    }
    await http(leader.url, 'PUT', '/key/probe', '"old"');
    let follower = await follow(leader);
    await converged(leader.url, [follower.url], 60_000);
    await follower.stop('SIGKILL');
    await http(leader.url, 'PUT', '/key/probe', '"new"');
    await randomWorkload(leader.url, { operations: 1000, workers: 4, seed: 3 });

    follower = await follow(leader);
    const reads: { state: string | undefined; status: number; value: unknown }[] = [];
    for (;;) {
      // The read, then the state: a read followed by 'full-resync' was answered before the swap.
      const read = await http(follower.url, 'GET', '/key/probe');
      const status = await replicationStatus(follower.url);
      const { value } = read.json as { value: unknown };
      reads.push({ state: status.state, status: read.status, value });
      if (status.fullResyncs === 1 && status.state === 'streaming') break;
    }
    const during = reads.filter((read) => read.state === 'full-resync');
    // Every read answered; the old value until the swap at the very end, the new one after.
    expect(reads.every((read) => read.status === 200)).toBe(true);
    expect(during.filter((read) => read.value === 'old').length).toBeGreaterThan(0);
    const firstNew = reads.findIndex((read) => read.value === 'new');
    const after = firstNew === -1 ? [] : reads.slice(firstNew);
    expect(after.every((read) => read.value === 'new')).toBe(true);
    await converged(leader.url, [follower.url], 60_000);
    expect((await http(follower.url, 'GET', '/key/probe')).json).toEqual({
      key: 'probe',
      value: 'new',
    });
    expect(await replicationStatus(follower.url)).toMatchObject({
      fullResyncs: 1,
      partialResyncs: 0,
    });
    expect(follower.output()).toMatch(/Full resync from .*: 60\d\d\d keys at revision \d+/);
  });
});
