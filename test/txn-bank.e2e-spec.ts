import { http } from './support/http-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

const ACCOUNTS = 20;
const INITIAL = 100;
const TRANSFER_CLIENTS = 6;
const RUN_MS = 3000;

interface Account {
  readonly value: number;
  readonly modRevision: number;
}

interface Transfer {
  readonly from: number;
  readonly to: number;
  readonly amount: number;
}

const account = (n: number) => `bank/${n}`;

/**
 * The classic bank test: clients move amounts between 20 accounts with compare-on-modRevision
 * transactions, retrying when another transfer got there first. Every read of all accounts (one
 * multi-get transaction) sums to the initial total, and the final balances are exactly those
 * that the transfers which answered `succeeded: true` make.
 */
describe.each(HTTP_ADAPTERS)('bank transfers over transactions (%s)', (adapter) => {
  let server: TestApp;
  const txn = async (body: unknown) => {
    const answer = await http(server.url, 'POST', '/txn', JSON.stringify(body));
    expect(answer.status).toBe(200);
    return answer.json as { succeeded: boolean; results: Record<string, unknown>[] };
  };
  const readAll = async (numbers: readonly number[]): Promise<Account[]> => {
    const answer = await txn({
      success: numbers.map((n) => ({ op: 'get', key: account(n), meta: true })),
    });
    return answer.results.map((result) => ({
      value: result.value as number,
      modRevision: result.modRevision as number,
    }));
  };

  beforeAll(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter });
  });

  afterAll(async () => {
    await server.close();
  });

  it('never changes the total and loses no succeeded transfer', async () => {
    const everyAccount = Array.from({ length: ACCOUNTS }, (_, n) => n);
    await txn({
      success: everyAccount.map((n) => ({ op: 'put', key: account(n), value: INITIAL })),
    });
    const succeeded: Transfer[] = [];
    let conflicts = 0;
    let reads = 0;
    const deadline = Date.now() + RUN_MS;
    let seed = 12345;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;

    const transferClient = async () => {
      while (Date.now() < deadline) {
        const from = random(ACCOUNTS);
        const to = (from + 1 + random(ACCOUNTS - 1)) % ACCOUNTS;
        const amount = 1 + random(20);
        for (;;) {
          const [source, target] = await readAll([from, to]);
          if (source.value < amount) break;
          const answer = await txn({
            compare: [
              { key: account(from), modRevision: source.modRevision },
              { key: account(to), modRevision: target.modRevision },
            ],
            success: [
              { op: 'put', key: account(from), value: source.value - amount },
              { op: 'put', key: account(to), value: target.value + amount },
            ],
          });
          if (answer.succeeded) {
            succeeded.push({ from, to, amount });
            break;
          }
          conflicts++;
        }
      }
    };
    const auditor = async () => {
      while (Date.now() < deadline) {
        const balances = await readAll(everyAccount);
        expect(balances.reduce((sum, { value }) => sum + value, 0)).toBe(ACCOUNTS * INITIAL);
        reads++;
      }
    };
    await Promise.all([...Array.from({ length: TRANSFER_CLIENTS }, transferClient), auditor()]);

    const expected = everyAccount.map(() => INITIAL);
    for (const { from, to, amount } of succeeded) {
      expected[from] -= amount;
      expected[to] += amount;
    }
    expect((await readAll(everyAccount)).map(({ value }) => value)).toEqual(expected);
    expect(succeeded.length).toBeGreaterThan(10);
    expect(reads).toBeGreaterThan(1);
    // Contention is what the test is about: some transfers must have had to retry.
    expect(conflicts).toBeGreaterThan(0);
  }, 30_000);
});
