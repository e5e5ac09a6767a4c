import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import {
  converged,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { ServerProcess, startServerProcess } from './support/server-process';

/**
 * The promise of WRITE_REPLICAS=1: every write that answered 200 survives the loss of the
 * leader, once the follower with the highest revision is promoted. Rounds of: 20 writers,
 * SIGKILL the leader at a random moment, promote, repoint the other follower, bring the killed
 * node back as a follower of the new leader (fencing what only it had), check every 200.
 */
const ROUNDS = 3;
const WRITERS = 20;
const SETTINGS = { STORAGE: 'file', WRITE_REPLICAS: '1', REPLICA_ACK_TIMEOUT_MS: '5000' };

jest.setTimeout(150_000);

interface Node {
  process: ServerProcess;
  dataDir: string;
}

describe('replication: a 200 with WRITE_REPLICAS=1 survives the leader’s SIGKILL and a promotion', () => {
  const running: ServerProcess[] = [];
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kv-repl-promise-'));
  });

  afterAll(async () => {
    await Promise.all(running.splice(0).map((node) => node.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  const launch = async (name: string, leader?: ServerProcess): Promise<Node> => {
    const dataDir = join(dir, name);
    const environment = { ...SETTINGS, DATA_DIR: dataDir };
    const process = leader
      ? await startFollower(leader.url, environment)
      : await startServerProcess(environment);
    running.push(process);
    return { process, dataDir };
  };

  const relaunch = async (node: Node, leader: ServerProcess): Promise<Node> => {
    const process = await startFollower(leader.url, { ...SETTINGS, DATA_DIR: node.dataDir });
    running.push(process);
    return { process, dataDir: node.dataDir };
  };

  it(`keeps every acknowledged write over ${ROUNDS} rounds of failover`, async () => {
    let leader = await launch('n0');
    let followers = [await launch('n1', leader.process), await launch('n2', leader.process)];
    const acknowledged = new Map<string, string>();

    for (let round = 0; round < ROUNDS; round++) {
      await waitFor('both followers to acknowledge', async () => {
        const { followers: records = [] } = await replicationStatus(leader.process.url);
        return records.filter((record) => record.connected).length === 2;
      });

      let killed = false;
      const writer = async (w: number) => {
        for (let i = 0; !killed; i++) {
          const key = `r${round}/w${w}/${i}`;
          const value = JSON.stringify({ round, w, i });
          const answer = await http(leader.process.url, 'PUT', `/key/${key}`, value).catch(
            () => undefined,
          );
          if (answer === undefined) return;
          if (answer.status === 200) acknowledged.set(key, value);
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 900));
      await leader.process.stop('SIGKILL');
      killed = true;
      await Promise.all(writers);

      // Both followers lose the link; then their revisions no longer move.
      await waitFor('the followers to notice', async () => {
        const states = await Promise.all(followers.map((f) => replicationStatus(f.process.url)));
        return states.every((state) => state.leader?.connected === false);
      });
      const revisions = await Promise.all(
        followers.map(async (f) => (await replicationStatus(f.process.url)).revision),
      );
      const [next, other] =
        revisions[0] >= revisions[1] ? [followers[0], followers[1]] : [followers[1], followers[0]];
      const promoted = await http(next.process.url, 'POST', '/replication/promote');
      expect(promoted.status).toBe(200);
      const repointed = await http(
        other.process.url,
        'POST',
        '/replication/follow',
        JSON.stringify({ leader: next.process.url }),
        { 'Content-Type': 'application/json' },
      );
      expect(repointed.status).toBe(200);
      const back = await relaunch(leader, next.process);

      // Every write that ever answered 200, this round's and the earlier ones', with its value.
      const missing: string[] = [];
      for (const [key, value] of acknowledged) {
        const read = await http(next.process.url, 'GET', `/key/${key}`);
        if (
          read.status !== 200 ||
          JSON.stringify((read.json as { value: unknown }).value) !== value
        ) {
          missing.push(key);
        }
      }
      expect({ round, missing }).toEqual({ round, missing: [] });
      expect(acknowledged.size).toBeGreaterThan(0);

      leader = next;
      followers = [other, back];
      await converged(
        leader.process.url,
        followers.map((f) => f.process.url),
        60_000,
      );
    }
  });
});
