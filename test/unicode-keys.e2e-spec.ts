import { http, HttpAnswer } from './support/http-client';
import { startServerProcess } from './support/server-process';
import { SseStream } from './support/sse-client';
import { HTTP_ADAPTERS, startTestApp, TestApp } from './support/test-app';

/**
 * Keys are any Unicode text but U+0000 (docs/API.md, "Keys"): controls, line and paragraph
 * separators, noncharacters and astral characters round-trip exactly, and everything that
 * shows a key escapes it: JSON bodies, Server-Sent Events, log lines. No header carries one.
 */
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i));

const KEYS: Array<[string, string]> = [
  ['every C0 control but NUL', range(0x01, 0x1f).join('')],
  ['a tab', 'a\tb'],
  ['CR LF', 'line\r\nbreak'],
  ['an ANSI escape', '\u001b[31mred\u001b[0m'],
  ['DEL', 'a\u007fb'],
  ['C1 controls', range(0x80, 0x9f).join('')],
  ['line and paragraph separators', 'a\u2028b\u2029c'],
  ['a BOM and noncharacters', '\ufeff\ufffe\uffff'],
  ['astral characters', '😀\u{10ffff}𝄞'],
  ['combining marks', 'e\u0301\u0301'],
];

const encodeKey = (key: string) => encodeURIComponent(key);

/** Header values carry no key, and nothing but visible ASCII (and spaces). */
function headerProblems(answer: HttpAnswer, key: string): string[] {
  const problems: string[] = [];
  answer.headers.forEach((value, name) => {
    if (!/^[\x20-\x7e]*$/.test(value)) problems.push(`${name} is not plain ASCII`);
    if (key.length > 2 && value.includes(key)) problems.push(`${name} carries the key`);
    if (value.includes(encodeKey(key))) problems.push(`${name} carries the encoded key`);
  });
  return problems;
}

describe.each(HTTP_ADAPTERS)('keys of any Unicode text (%s)', (adapter) => {
  let server: TestApp;
  const call = (method: string, path: string, body?: string) =>
    http(server.url, method, path, body);

  beforeAll(async () => {
    server = await startTestApp({ HTTP_ADAPTER: adapter });
  });

  afterAll(async () => {
    await server.close();
  });

  it.each(KEYS)('stores, reads, lists, expires and deletes a key with %s', async (_name, key) => {
    const path = `/key/${encodeKey(key)}`;
    const answers = [
      await call('PUT', path, '"v"'),
      await call('GET', path),
      await call('GET', `/keys?pattern=${encodeKey(key.replace(/[*?[\]\\]/g, '\\$&'))}`),
      await call('PUT', `/ttl/${encodeKey(key)}`, '{"ttl":60}'),
      await call('GET', `/ttl/${encodeKey(key)}`),
      await call('DELETE', path),
      await call('GET', path),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 200, 404]);
    expect(answers[0].text).toBe(`{"success":true,"key":${JSON.stringify(key)},"value":"v"}`);
    expect(answers[1].json).toEqual({ key, value: 'v' });
    expect(answers[2].json).toEqual({ totalKeys: 1, keys: [key] });
    expect((answers[4].json as { key: string }).key).toBe(key);
    expect(answers[6].json).toEqual({ error: 'Key not found', key });
    // JSON escapes every C0 control: no raw one reaches a body.
    // eslint-disable-next-line no-control-regex
    for (const answer of answers) expect(answer.text).not.toMatch(/[\u0000-\u001f]/);
    expect(answers.flatMap((answer) => headerProblems(answer, key))).toEqual([]);
  });

  it('matches control characters with ? and sets, one character each', async () => {
    for (const key of ['a\tb', 'a\nb', 'a\u0085b']) {
      expect((await call('PUT', `/key/${encodeKey(key)}`, '1')).status).toBe(200);
    }
    const listed = async (pattern: string) =>
      ((await call('GET', `/keys?pattern=${encodeKey(pattern)}`)).json as { keys: string[] }).keys;
    expect(await listed('a?b')).toEqual(['a\tb', 'a\nb', 'a\u0085b']);
    expect(await listed('a[\t\n]b')).toEqual(['a\tb', 'a\nb']);
    for (const key of ['a\tb', 'a\nb', 'a\u0085b']) {
      expect((await call('DELETE', `/key/${encodeKey(key)}`)).status).toBe(200);
    }
  });

  it('sends such keys in /watch events that keep the stream’s framing', async () => {
    const stream = await SseStream.open(server.url, '/watch');
    try {
      const keys = KEYS.map(([, key]) => key);
      for (const key of keys) {
        expect((await call('PUT', `/key/${encodeKey(key)}`, '1')).status).toBe(200);
      }
      const events = await stream.events(keys.length);
      expect(events.map((event) => event.event)).toEqual(keys.map(() => 'put'));
      expect(events.map((event) => (JSON.parse(event.data!) as { key: string }).key)).toEqual(keys);
      // One data line each: CR and LF inside a key cannot start a new SSE field.
      expect(events.map((event) => event.data!.includes('\n'))).toEqual(keys.map(() => false));
      for (const key of keys) await call('DELETE', `/key/${encodeKey(key)}`);
    } finally {
      stream.close();
    }
  });

  it('still refuses U+0000, malformed escapes and bytes that are not UTF-8', async () => {
    for (const [path, error] of [
      ['/key/%00', 'Key must not contain U+0000 (NUL)'],
      ['/key/a%00', 'Key must not contain U+0000 (NUL)'],
      ['/key/%FF', 'Key has malformed percent-encoding or is not UTF-8'],
      ['/key/%ED%A0%80', 'Key has malformed percent-encoding or is not UTF-8'],
      ['/key/%G0', 'Key has malformed percent-encoding or is not UTF-8'],
    ]) {
      const answer = await call('PUT', path, '1');
      expect({ path, status: answer.status, json: answer.json }).toEqual({
        path,
        status: 400,
        json: { error },
      });
    }
    expect((await call('GET', '/keys')).json).toEqual({ totalKeys: 0, keys: [] });
  });
});

describe.each(HTTP_ADAPTERS)('keys of any Unicode text in the logs (%s)', (adapter) => {
  it('logs a request for such a key as one JSON line, its URL still percent-encoded', async () => {
    const server = await startServerProcess({ HTTP_ADAPTER: adapter, LOG_LEVEL: 'debug' });
    const key = 'forged\n{"level":60}\u001b[2J\u0085\u2028end';
    try {
      const headers = { 'X-Request-Id': 'unicode-key' };
      const answer = await http(server.url, 'PUT', `/key/${encodeKey(key)}`, '1', headers);
      expect(answer.status).toBe(200);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    const output = server.output();
    // eslint-disable-next-line no-control-regex
    expect(output).not.toMatch(/[\u001b\u0085\u2028]/);
    const lines = output.split('\n').filter((line) => line.includes('unicode-key'));
    expect(lines.map((line) => JSON.parse(line) as { req: { url: string } })).toEqual([
      expect.objectContaining({ req: expect.objectContaining({ url: `/key/${encodeKey(key)}` }) }),
    ]);
    expect(output).not.toContain('"level":60');
  }, 60_000);
});
