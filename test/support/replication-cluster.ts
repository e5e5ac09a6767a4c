import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/clock/fake-clock';
import { dumpStore, StoreDump } from '../../src/storage/file/testing/store-dump';
import { MemoryStorageRepository } from '../../src/storage/memory-storage.repository';
import { SnapshotEntry } from '../../src/storage/storage.repository';
import { http } from './http-client';
import { ServerProcess, startServerProcess } from './server-process';

/** Ports for leaders that must come back on the same address (the helper's range 44000-44999). */
let nextPort = 44_000 + Math.floor(Math.random() * 900);
export function leaderPort(): number {
  nextPort = nextPort >= 44_990 ? 44_000 : nextPort + 1;
  return nextPort;
}

export interface ReplicationStatusBody {
  role: 'leader' | 'follower';
  historyId: string | null;
  revision: number;
  state?: string;
  leader?: { connected: boolean; revision: number | null; lagRevisions: number | null };
  fullResyncs?: number;
  partialResyncs?: number;
  followers?: { id: string; connected: boolean; appliedRevision: number }[];
}

export async function replicationStatus(url: string): Promise<ReplicationStatusBody> {
  return (await http(url, 'GET', '/replication')).json as ReplicationStatusBody;
}

export function startFollower(
  leaderUrl: string,
  environment: Record<string, string> = {},
): Promise<ServerProcess> {
  return startServerProcess({ REPLICA_OF: leaderUrl, ...environment });
}

/** A node's data read from GET /replication/snapshot: its raw lines, and the tests' dump of it. */
export interface NodeData {
  readonly revision: number;
  /** The entry lines, byte for byte as the node wrote them. */
  readonly lines: string;
  readonly dump: StoreDump;
}

/** The dump is taken at one fixed time on every node, so expiry hides the same keys in each. */
const DUMP_TIME = Date.now() + 1000;

export async function nodeData(url: string): Promise<NodeData> {
  const answer = await http(url, 'GET', '/replication/snapshot');
  if (answer.status !== 200) throw new Error(`snapshot of ${url}: ${answer.status}`);
  const lines = answer.text.trimEnd().split('\n');
  const head = JSON.parse(lines[0]) as { revision: number };
  const entries = lines.slice(1, -1);
  const clock = new FakeClock(DUMP_TIME);
  const copy = new MemoryStorageRepository(clock);
  const replacement = await copy.replaceAll(head.revision);
  for (const line of entries) {
    const entry = JSON.parse(line) as SnapshotEntry;
    await replacement.add({
      key: entry.key,
      value: entry.value,
      expiresAt: entry.expiresAt,
      createRevision: entry.createRevision,
      modRevision: entry.modRevision,
      version: entry.version,
    });
  }
  await replacement.commit('copy');
  return { revision: head.revision, lines: entries.join('\n'), dump: await dumpStore(copy) };
}

/**
 * Waits until every follower holds exactly the leader's data at the leader's revision (the
 * leader may still commit expiries meanwhile), then returns the leader's data.
 */
export async function converged(
  leader: string,
  followers: readonly string[],
  timeoutMs = 20_000,
): Promise<NodeData> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const expected = await nodeData(leader);
    const actual = await Promise.all(followers.map(nodeData));
    if (
      actual.every((data) => data.revision === expected.revision && data.lines === expected.lines)
    ) {
      return expected;
    }
    last = `leader at ${expected.revision}, followers at ${actual.map((data) => data.revision).join(', ')}`;
    if (Date.now() > deadline) throw new Error(`not converged within ${timeoutMs} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * For a describe block: each test gets a fresh temp dir, and every process it started through
 * `start` (or pushed onto `nodes`) is SIGKILLed after it, passed or failed.
 */
export function nodesOfEachTest(dirPrefix: string) {
  const nodes: ServerProcess[] = [];
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    nodes,
    dir: () => dir,
    start: async (environment: Record<string, string>) => {
      const node = await startServerProcess(environment);
      nodes.push(node);
      return node;
    },
  };
}
