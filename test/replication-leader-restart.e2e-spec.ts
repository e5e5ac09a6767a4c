import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import {
  converged,
  leaderPort,
  nodeData,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { randomWorkload } from './support/replication-workload';
import { ServerProcess, startServerProcess } from './support/server-process';

jest.setTimeout(120_000);

describe('replication: the leader restarting', () => {
  const nodes: ServerProcess[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop('SIGKILL')));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-repl-leader-'));
    dirs.push(dir);
    return dir;
  };
  const start = async (environment: Record<string, string>) => {
    const node = await startServerProcess(environment);
    nodes.push(node);
    return node;
  };

  /** A leader on a fixed port (so it can come back in its place) and two followers. */
  async function cluster(leaderEnvironment: Record<string, string>) {
    const port = String(leaderPort());
    const leader = await start({ ...leaderEnvironment, PORT: port });
    const followers = [
      await startFollower(leader.url, { STORAGE: 'file', DATA_DIR: tempDir() }),
      await startFollower(leader.url),
    ];
    nodes.push(...followers);
    await randomWorkload(leader.url, { operations: 300, workers: 4, seed: 11 });
    await converged(
      leader.url,
      followers.map((follower) => follower.url),
    );
    return { port, leader, followers };
  }

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'followers reconnect and converge after the leader is stopped with %s',
    async (signal) => {
      const dataDir = tempDir();
      const leaderEnvironment = { STORAGE: 'file', DATA_DIR: dataDir, FSYNC: 'everysec' };
      const { port, leader, followers } = await cluster(leaderEnvironment);
      const before = await replicationStatus(leader.url);
      await leader.stop(signal);
      await waitFor('the followers to notice', async () => {
        const states = await Promise.all(followers.map((node) => replicationStatus(node.url)));
        return states.every((status) => !status.leader!.connected);
      });
      const restarted = await start({ ...leaderEnvironment, PORT: port });
      await randomWorkload(restarted.url, { operations: 300, workers: 4, seed: 12 });
      await converged(
        restarted.url,
        followers.map((follower) => follower.url),
      );
      const after = await replicationStatus(restarted.url);
      for (const follower of followers) {
        const status = await replicationStatus(follower.url);
        expect(status.historyId).toBe(after.historyId);
        expect(status.leader!.connected).toBe(true);
      }
      if (signal === 'SIGTERM') {
        // A clean stop keeps the history, so caught-up followers continue from it.
        expect(after.historyId).toBe(before.historyId);
        for (const follower of followers) {
          expect(await replicationStatus(follower.url)).toMatchObject({
            fullResyncs: 1,
            partialResyncs: 1,
          });
        }
      } else {
        // After a crash the leader starts a new history that continues the old one.
        expect(after.historyId).not.toBe(before.historyId);
        expect((after as { previous?: { historyId: string } }).previous?.historyId).toBe(
          before.historyId,
        );
      }
    },
  );

  it('followers refuse an empty in-memory leader started in its place, and keep their data', async () => {
    const { port, leader, followers } = await cluster({});
    const kept = await Promise.all(followers.map((follower) => nodeData(follower.url)));
    await leader.stop('SIGKILL');
    const empty = await start({ PORT: port });
    await http(empty.url, 'PUT', '/key/intruder', '1');
    for (const [i, follower] of followers.entries()) {
      await waitFor(
        'the refusal',
        async () => (await replicationStatus(follower.url)).state === 'refused',
      );
      const ready = await http(follower.url, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.text).toMatch(/Refusing the leader at .*unrelated/);
      expect((await nodeData(follower.url)).lines).toBe(kept[i].lines);
      expect((await http(follower.url, 'GET', '/key/intruder')).status).toBe(404);
      const lasting = kept[i].lines
        .split('\n')
        .map((line) => JSON.parse(line) as { key: string; expiresAt: number | null })
        .find((entry) => entry.expiresAt === null)!;
      expect((await http(follower.url, 'GET', `/key/${lasting.key}`)).status).toBe(200);
      expect(follower.output()).toMatch(/"level":50.*Refusing the leader/);
    }
  });
});
