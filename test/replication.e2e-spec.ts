import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectSameDump } from '../src/storage/file/testing/store-dump';
import { http } from './support/http-client';
import {
  converged,
  nodeData,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { randomWorkload } from './support/replication-workload';
import { ServerProcess, startServerProcess } from './support/server-process';
import { SseMessage, SseStream } from './support/sse-client';

jest.setTimeout(120_000);

/** Events of a /watch stream up to and including `revision`. */
async function eventsThrough(stream: SseStream, revision: number): Promise<SseMessage[]> {
  const events: SseMessage[] = [];
  while (events.length === 0 || Number(events.at(-1)!.id) < revision) {
    const event = await stream.nextEvent(10_000);
    if (event === undefined) throw new Error(`the stream ended after ${events.length} events`);
    events.push({ id: event.id, event: event.event, data: event.data, comments: [] });
  }
  return events;
}

describe.each([
  ['memory', false],
  ['file', true],
])('replication: a leader and two followers (STORAGE=%s)', (_name, durable) => {
  const dirs: string[] = [];
  const nodes: ServerProcess[] = [];
  let leader: ServerProcess;
  let followers: ServerProcess[];

  const storage = (): Record<string, string> => {
    if (!durable) return {};
    const dir = mkdtempSync(join(tmpdir(), 'kv-repl-'));
    dirs.push(dir);
    return { STORAGE: 'file', DATA_DIR: dir, FSYNC: 'everysec' };
  };

  beforeAll(async () => {
    leader = await startServerProcess({ ...storage(), SWEEP_INTERVAL_MS: '50' });
    nodes.push(leader);
    followers = await Promise.all([
      startFollower(leader.url, storage()),
      startFollower(leader.url, storage()),
    ]);
    nodes.push(...followers);
    for (const follower of followers) {
      await waitFor('the follower to stream', async () => {
        return (await replicationStatus(follower.url)).state === 'streaming';
      });
    }
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('converges to identical stores, and a follower’s /watch sees the leader’s changes in order', async () => {
    const onLeader = await SseStream.open(leader.url, '/watch');
    const onFollower = await SseStream.open(followers[0].url, '/watch');
    const taken = await randomWorkload(leader.url, { operations: 600, workers: 8, seed: 15 });
    expect(taken).toBeGreaterThan(300);
    // Let the short expiries pass, so the leader's expire changes are part of what converges.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const data = await converged(
      leader.url,
      followers.map((follower) => follower.url),
    );
    expect(data.dump.entries.length).toBeGreaterThan(0);
    for (const follower of followers) {
      const copy = await nodeData(follower.url);
      expectSameDump(copy.dump, data.dump);
      expect(JSON.stringify(copy.dump)).toBe(JSON.stringify(data.dump));
    }
    const leaderEvents = await eventsThrough(onLeader, data.revision);
    const followerEvents = await eventsThrough(onFollower, data.revision);
    onLeader.close();
    onFollower.close();
    expect(followerEvents).toEqual(leaderEvents);
    const kinds = new Set(leaderEvents.map((event) => event.event));
    for (const kind of ['put', 'delete', 'ttl', 'expire', 'txn']) expect(kinds).toContain(kind);
  });

  it('serves the same key with the same ETag and revision headers on every node', async () => {
    await http(leader.url, 'PUT', '/key/same', '{"v":1}');
    await http(leader.url, 'PUT', '/key/same', '{"v":2}');
    await converged(
      leader.url,
      followers.map((follower) => follower.url),
    );
    const answers = await Promise.all(
      [leader, ...followers].map((node) => http(node.url, 'GET', '/key/same')),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('etag')).toBe(answers[0].headers.get('etag'));
      expect(answer.text).toBe(answers[0].text);
    }
  });

  it('answers every write route on a follower with 307 to the leader, storing nothing', async () => {
    const follower = followers[1];
    const before = await nodeData(follower.url);
    const leaderBefore = await nodeData(leader.url);
    const writes: [string, string, string?][] = [
      ['PUT', '/key/redirected?ttl=30', '{"a":1}'],
      ['DELETE', '/key/same'],
      ['PUT', '/ttl/same', '{"ttl":30}'],
      ['POST', '/txn', '{"success":[{"op":"put","key":"redirected","value":1}]}'],
    ];
    for (const [method, path, body] of writes) {
      // fetch would follow the redirect to the leader; the test reads the 307 itself.
      const answer = await fetch(follower.url + path, { method, body, redirect: 'manual' });
      expect(answer.status).toBe(307);
      expect(answer.headers.get('location')).toBe(leader.url + path);
      expect(await answer.json()).toEqual({
        error: 'This node is a read-only follower',
        leader: leader.url,
      });
    }
    expect((await nodeData(follower.url)).lines).toBe(before.lines);
    expect((await nodeData(leader.url)).lines).toBe(leaderBefore.lines);
    expect((await http(follower.url, 'GET', '/key/redirected')).status).toBe(404);
  });

  it('answers a write malformed in its form with the 400 the leader would give, storing nothing', async () => {
    const follower = followers[1];
    const before = await nodeData(follower.url);
    const malformed: [string, string, string, string][] = [
      ['PUT', '/key/redirected?TTL=30', '{"a":1}', 'Unknown query parameter'],
      ['PUT', '/ttl/same', '{"ttl":"soon"}', 'ttl'],
      ['POST', '/txn', '{"success":[{"op":"rename","key":"k"}]}', 'op'],
    ];
    for (const [method, path, body, named] of malformed) {
      const onFollower = await fetch(follower.url + path, { method, body, redirect: 'manual' });
      const onLeader = await fetch(leader.url + path, { method, body, redirect: 'manual' });
      expect(onFollower.status).toBe(400);
      const error = (await onFollower.json()) as { error: string };
      expect(error).toEqual(await onLeader.json());
      expect(error.error).toContain(named);
    }
    expect((await nodeData(follower.url)).lines).toBe(before.lines);
  });

  it('reports both roles in /replication, /health/ready and /metrics', async () => {
    const revision = (await replicationStatus(leader.url)).revision;
    await waitFor('the followers to acknowledge', async () => {
      const status = await replicationStatus(leader.url);
      return (
        status.followers!.filter((record) => record.connected && record.appliedRevision >= revision)
          .length === 2
      );
    });
    const status = await replicationStatus(followers[0].url);
    expect(status).toMatchObject({
      role: 'follower',
      historyId: (await replicationStatus(leader.url)).historyId,
      state: 'streaming',
      leader: { connected: true },
      fullResyncs: 1,
      partialResyncs: 0,
    });
    expect((await http(followers[0].url, 'GET', '/health/ready')).status).toBe(200);
    const metrics = (await http(followers[0].url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/^kv_replication_connected 1$/m);
    expect(metrics).toMatch(/^kv_replication_lag_revisions \d+$/m);
    expect((await http(leader.url, 'GET', '/metrics')).text).toMatch(
      /^kv_replication_followers_connected 2$/m,
    );
  });
});
