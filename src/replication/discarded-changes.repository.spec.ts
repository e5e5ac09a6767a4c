import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscardedChangesRepository } from './discarded-changes.repository';

describe('DiscardedChangesRepository', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kv-discarded-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one line per change to a file named by the range and the time, in a directory it creates', async () => {
    const dataDir = join(dir, 'data');
    const path = await new DiscardedChangesRepository(dataDir).save(
      41,
      42,
      ['{"op":"delete","revision":41,"key":"a"}', '{"op":"delete","revision":42,"key":"b"}'],
      Date.UTC(2026, 11, 2, 3, 15, 0, 123),
    );
    expect(path).toBe(join(dataDir, 'discarded-revisions-41-to-42-20261202T031500Z.jsonl'));
    expect(readFileSync(path, 'utf8')).toBe(
      '{"op":"delete","revision":41,"key":"a"}\n{"op":"delete","revision":42,"key":"b"}\n',
    );
    expect(readdirSync(dataDir)).toEqual(['discarded-revisions-41-to-42-20261202T031500Z.jsonl']);
  });
});
