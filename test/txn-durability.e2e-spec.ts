import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http-client';
import { ServerProcess, startServerProcess } from './support/server-process';

const WORKERS = 4;
const KEYS_PER_TXN = 4;

/** Where one worker's sequence of transactions stands: at most one is in flight at a time. */
interface WorkerState {
  acknowledged: number; // -1: none yet
  inFlight?: number;
}

const keysOf = (w: number) => Array.from({ length: KEYS_PER_TXN }, (_, j) => `t/w${w}/k${j}`);
const flagOf = (w: number) => `t/w${w}/flag`;

/**
 * Transaction i of worker w puts {w, i} into the worker's keys and, for even i, creates its
 * flag key, for odd i deletes it. After a SIGKILL with FSYNC=always, every worker's keys hold
 * one transaction's values, all of them (never a mix), the flag agrees with it, and it is the
 * last acknowledged transaction or the one in flight.
 */
describe('transactions across SIGKILL (FSYNC=always)', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kv-txn-durability-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = () => startServerProcess({ STORAGE: 'file', DATA_DIR: dataDir, FSYNC: 'always' });

  const transaction = (w: number, i: number) => ({
    success: [
      ...keysOf(w).map((key) => ({ op: 'put', key, value: { w, i, pad: 'x'.repeat(i % 40) } })),
      i % 2 === 0 ? { op: 'put', key: flagOf(w), value: i } : { op: 'delete', key: flagOf(w) },
    ],
  });

  async function runUntilKilled(server: ServerProcess, states: WorkerState[]) {
    let killed = false;
    const worker = async (w: number) => {
      const state = states[w];
      for (let i = state.acknowledged + 1; !killed; i++) {
        state.inFlight = i;
        let status: number;
        try {
          status = (await http(server.url, 'POST', '/txn', JSON.stringify(transaction(w, i))))
            .status;
        } catch {
          return; // the process died with this transaction in flight
        }
        expect(status).toBe(200);
        state.acknowledged = i;
        state.inFlight = undefined;
      }
    };
    const workers = states.map((_, w) => worker(w));
    await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(Math.random() * 600)));
    killed = true;
    expect(await server.stop('SIGKILL')).toBe('SIGKILL');
    await Promise.all(workers);
  }

  async function expectWholeTransactions(server: ServerProcess, states: WorkerState[]) {
    for (const [w, state] of states.entries()) {
      const answer = await http(
        server.url,
        'POST',
        '/txn',
        JSON.stringify({
          success: [...keysOf(w), flagOf(w)].map((key) => ({ op: 'get', key })),
        }),
      );
      const results = (answer.json as { results: { value?: { i: number } | number }[] }).results;
      const values = results.slice(0, KEYS_PER_TXN).map((result) => result.value);
      if (state.acknowledged === -1 && values.every((value) => value === undefined)) {
        state.inFlight = undefined;
        continue;
      }
      const i = (values[0] as { i: number }).i;
      // All of one transaction, never a mix of two.
      expect(values).toEqual(keysOf(w).map(() => ({ w, i, pad: 'x'.repeat(i % 40) })));
      expect(results[KEYS_PER_TXN].value).toEqual(i % 2 === 0 ? i : undefined);
      // Every acknowledged one is there; at most the one in flight beyond it.
      expect([state.acknowledged, state.inFlight]).toContain(i);
      state.acknowledged = i;
      state.inFlight = undefined;
    }
  }

  it('keeps each transaction all or none, and every acknowledged one, over three kills', async () => {
    const states: WorkerState[] = Array.from({ length: WORKERS }, () => ({ acknowledged: -1 }));
    let server = await start();
    for (let round = 0; round < 3; round++) {
      await runUntilKilled(server, states);
      server = await start();
      await expectWholeTransactions(server, states);
    }
    expect(states.some((state) => state.acknowledged > 0)).toBe(true);
    expect(await server.stop('SIGTERM')).toBe(0);
  }, 90_000);
});
