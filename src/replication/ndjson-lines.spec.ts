import { ndjsonLines } from './ndjson-lines';
import { ProtocolError } from './replication-protocol';

async function collect(chunks: Buffer[], maxChars = 1000): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of ndjsonLines(toAsync(chunks), maxChars)) lines.push(line);
  return lines;
}

async function* toAsync(chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

describe('ndjsonLines', () => {
  it('splits lines across chunks, multi-byte characters included', async () => {
    const bytes = Buffer.from('{"a":"é€"}\n{"b":1}\n\n');
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 9), bytes.subarray(9)];
    expect(await collect(chunks)).toEqual(['{"a":"é€"}', '{"b":1}', '']);
  });

  it('refuses a line longer than the limit, and a stream cut inside a line', async () => {
    await expect(collect([Buffer.from('x'.repeat(20))], 10)).rejects.toBeInstanceOf(ProtocolError);
    await expect(collect([Buffer.from('{"a":1}\n{"b"')])).rejects.toThrow(
      'the stream ended inside a line',
    );
  });
});
