import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { http } from './support/http-client';
import {
  converged,
  nodeData,
  nodesOfEachTest,
  replicationStatus,
  startFollower,
  waitFor,
} from './support/replication-cluster';
import { ServerProcess } from './support/server-process';

jest.setTimeout(120_000);

const JSON_HEADERS = { 'Content-Type': 'application/json' };

interface RoleStatus {
  role: 'leader' | 'follower';
  historyId: string;
  epoch: number;
  revision: number;
  previous?: { historyId: string; revision: number } | null;
  state?: string;
  refusal?: string;
  fullResyncs?: number;
  partialResyncs?: number;
  discardedRevisions: number;
  discardedFile?: string;
}

const status = async (node: ServerProcess) =>
  (await replicationStatus(node.url)) as unknown as RoleStatus;

const follow = (node: ServerProcess, leader: ServerProcess, headers: Record<string, string> = {}) =>
  http(node.url, 'POST', '/replication/follow', JSON.stringify({ leader: leader.url }), {
    ...JSON_HEADERS,
    ...headers,
  });

describe('replication: promotion, repointing and fencing', () => {
  const { nodes, dir, start } = nodesOfEachTest('kv-repl-failover-');

  it('promotes a follower, repoints another with a partial resync, refuses the deposed leader’s older history, and fences the deposed leader’s writes', async () => {
    const a = await start({ STORAGE: 'file', DATA_DIR: join(dir(), 'a') });
    const b = await startFollower(a.url, { STORAGE: 'file', DATA_DIR: join(dir(), 'b') });
    nodes.push(b);
    const c = await startFollower(a.url);
    nodes.push(c);
    for (let i = 0; i < 40; i++) {
      expect((await http(a.url, 'PUT', `/key/k${i}`, JSON.stringify(i))).status).toBe(200);
    }
    await converged(a.url, [b.url, c.url]);
    const before = await status(a);

    // Promotion: a new history one epoch up, continuing A's at B's revision.
    const promoted = await http(b.url, 'POST', '/replication/promote');
    expect(promoted.status).toBe(200);
    const switchRevision = before.revision;
    expect(promoted.json).toMatchObject({
      role: 'leader',
      epoch: before.epoch + 1,
      revision: switchRevision,
      previous: { historyId: before.historyId, revision: switchRevision },
      discardedRevisions: 0,
    });
    expect((promoted.json as RoleStatus).historyId).not.toBe(before.historyId);

    // C, at the switch revision of A's history, continues on B without a copy (repointed
    // before A takes more writes: a follower still on A would hold them and be fenced too).
    expect((await follow(c, b)).status).toBe(200);
    await waitFor('C to stream from B', async () => (await status(c)).state === 'streaming');
    expect(await status(c)).toMatchObject({
      partialResyncs: 1,
      fullResyncs: 0,
      epoch: before.epoch + 1,
    });

    expect((await http(b.url, 'PUT', '/key/on-b', '"b"')).status).toBe(200);
    // The sweep runs on the promoted node: it expires a key itself.
    expect((await http(b.url, 'PUT', '/key/short?ttl=0.2', '1')).status).toBe(200);
    await waitFor('the promoted node to expire a key', async () => {
      const stats = (await http(b.url, 'GET', '/stats')).json as { expiredTotal: number };
      return stats.expiredTotal >= 1;
    });

    // A, cut off from the promotion, goes on taking writes: these are the ones fencing discards.
    const deposed = ['d0', 'd1', 'd2', 'd3', 'd4'];
    for (const key of deposed) {
      expect((await http(a.url, 'PUT', `/key/${key}`, JSON.stringify(`${key}-value`))).status).toBe(
        200,
      );
    }

    await converged(b.url, [c.url]);

    // Pointed at the deposed leader, C refuses its older history and keeps its data.
    const kept = await nodeData(c.url);
    expect((await follow(c, a)).status).toBe(200);
    const refused = await waitFor('C to refuse A', async () => {
      const now = await status(c);
      return now.state === 'refused' ? now : undefined;
    });
    expect(refused.refusal).toMatch(
      new RegExp(
        `has epoch ${before.epoch}, older than this node's .* of epoch ${before.epoch + 1}`,
      ),
    );
    expect(c.output()).toMatch(/Refusing the leader at .*older than this node's/);
    expect((await nodeData(c.url)).lines).toBe(kept.lines);
    expect((await follow(c, b)).status).toBe(200);

    // The deposed leader follows B: its writes after the switch are saved, discarded, counted.
    const repointed = await follow(a, b);
    expect(repointed.status).toBe(200);
    expect(repointed.json).toMatchObject({ role: 'follower' });
    // fetch would follow the redirect to B; the test reads the 307 itself.
    const redirected = await fetch(`${a.url}/key/late`, {
      method: 'PUT',
      body: '1',
      redirect: 'manual',
    });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get('location')).toBe(`${b.url}/key/late`);
    const fenced = await waitFor('A to follow B', async () => {
      const now = await status(a);
      return now.state === 'streaming' ? now : undefined;
    });
    expect(fenced).toMatchObject({ discardedRevisions: deposed.length, epoch: before.epoch + 1 });
    const file = fenced.discardedFile!;
    expect(dirname(file)).toBe(join(dir(), 'a'));
    expect(file).toMatch(
      new RegExp(
        `discarded-revisions-${switchRevision + 1}-to-${switchRevision + 5}-\\d{8}T\\d{6}Z\\.jsonl$`,
      ),
    );
    const saved = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map(
        (line) => JSON.parse(line) as { op: string; key: string; value: string; revision: number },
      );
    expect(saved.map(({ op, key, value, revision }) => ({ op, key, value, revision }))).toEqual(
      deposed.map((key, i) => ({
        op: 'put',
        key,
        value: JSON.stringify(`${key}-value`),
        revision: switchRevision + 1 + i,
      })),
    );
    expect(a.output()).toMatch(/Discarding 5 revisions .* saved to .*discarded-revisions-/);

    // Identical stores, without the discarded writes; nothing more discarded meanwhile (a sweep
    // on A would have been an expiry of its own, fenced in turn).
    await http(b.url, 'PUT', '/key/after', '"x"');
    await converged(b.url, [a.url, c.url]);
    expect((await http(a.url, 'GET', '/key/d0')).status).toBe(404);
    expect((await http(a.url, 'GET', '/key/on-b')).json).toMatchObject({ value: 'b' });
    expect((await status(a)).discardedRevisions).toBe(deposed.length);
  });

  it('refuses role changes without the replication token, a bad leader URL, and promoting a follower without data', async () => {
    const token = 'failover-secret';
    const lonely = await start({
      REPLICA_OF: 'http://127.0.0.1:9',
      REPLICATION_TOKEN: token,
    });
    const auth = { Authorization: `Bearer ${token}` };
    expect((await http(lonely.url, 'POST', '/replication/promote')).status).toBe(401);
    expect((await follow(lonely, lonely)).status).toBe(401);
    const refused = await http(lonely.url, 'POST', '/replication/promote', undefined, auth);
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({
      error:
        "This follower holds no copy of a leader's data yet: promoting it would start an empty " +
        'history; promote a follower that has one',
    });
    for (const body of ['{"leader":"ftp://x"}', '{"leader":"http://a:b@x"}', '{}', '[]']) {
      const answer = await http(lonely.url, 'POST', '/replication/follow', body, {
        ...JSON_HEADERS,
        ...auth,
      });
      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ error: expect.any(String) });
    }
    expect(await status(lonely)).toMatchObject({ role: 'follower', discardedRevisions: 0 });
    // Itself, under another spelling of its address: refused, and it keeps following.
    const self = lonely.url.replace('127.0.0.1', 'localhost');
    const selfFollow = await http(
      lonely.url,
      'POST',
      '/replication/follow',
      JSON.stringify({ leader: self }),
      {
        ...JSON_HEADERS,
        ...auth,
      },
    );
    expect(selfFollow.status).toBe(409);
    expect(selfFollow.json).toEqual({ error: expect.stringContaining('is this node itself') });
    expect(await status(lonely)).toMatchObject({
      role: 'follower',
      leader: expect.objectContaining({ url: 'http://127.0.0.1:9' }),
    });

    // The operator's routes are in the OpenAPI document; the protocol's NDJSON routes are not.
    const document = (await http(lonely.url, 'GET', '/docs-json')).json as {
      paths: Record<string, unknown>;
    };
    const replicationPaths = Object.keys(document.paths).filter((path) =>
      path.startsWith('/replication'),
    );
    expect(replicationPaths.sort()).toEqual([
      '/replication',
      '/replication/follow',
      '/replication/promote',
    ]);
  });
});
