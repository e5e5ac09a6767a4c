import { http } from './http-client';

/** A deterministic pseudo-random sequence (mulberry32), so a failing run can be repeated. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random mix of every kind of write against `url`: puts (some with expiries short enough to
 * expire during the test), deletes, TTL changes, and transactions of several puts and deletes,
 * from `workers` concurrent clients. Resolves with the number of writes the leader took.
 */
export async function randomWorkload(
  url: string,
  options: { operations: number; workers: number; seed: number; keys?: number },
): Promise<number> {
  const random = randomSource(options.seed);
  const keys = options.keys ?? 40;
  const key = () => `k${Math.floor(random() * keys)}`;
  let remaining = options.operations;
  let taken = 0;
  const worker = async () => {
    while (remaining-- > 0) {
      const pick = random();
      const value = JSON.stringify({ n: Math.floor(random() * 1e6), s: 'é'.repeat(pick * 20) });
      let answer;
      if (pick < 0.4) {
        answer = await http(url, 'PUT', `/key/${key()}`, value);
      } else if (pick < 0.5) {
        answer = await http(
          url,
          'PUT',
          `/key/${key()}?ttl=0.${1 + Math.floor(random() * 5)}`,
          value,
        );
      } else if (pick < 0.65) {
        answer = await http(url, 'DELETE', `/key/${key()}`);
      } else if (pick < 0.75) {
        const ttl = random() < 0.3 ? null : 60 + Math.floor(random() * 60);
        answer = await http(url, 'PUT', `/ttl/${key()}`, JSON.stringify({ ttl }));
      } else {
        // A branch writes a key at most once.
        const names = [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, key))];
        const ops = names.map((name) =>
          random() < 0.7
            ? { op: 'put', key: name, value: { txn: Math.floor(random() * 1e6) } }
            : { op: 'delete', key: name },
        );
        answer = await http(url, 'POST', '/txn', JSON.stringify({ success: ops }));
      }
      if (answer.status === 200) taken++;
      else if (answer.status !== 404)
        throw new Error(`write answered ${answer.status}: ${answer.text}`);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return taken;
}
