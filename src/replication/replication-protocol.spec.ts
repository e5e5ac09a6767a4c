import { decodeMessage, encodeMessage, entryLine, ProtocolError } from './replication-protocol';

describe('replication protocol messages', () => {
  it('round-trips every message, values as their JSON text', () => {
    const entry = {
      key: 'k',
      value: '{"a":"é"}',
      expiresAt: null,
      createRevision: 1,
      modRevision: 3,
      version: 2,
    };
    expect(decodeMessage(entryLine(entry).trimEnd())).toEqual({ type: 'entry', ...entry });
    const changes = {
      type: 'changes' as const,
      txn: true,
      changes: [
        {
          op: 'put' as const,
          revision: 4,
          key: 'a',
          value: '1',
          expiresAt: 5,
          createRevision: 4,
          version: 1,
        },
        { op: 'delete' as const, revision: 5, key: 'b' },
        { op: 'expire' as const, revision: 6, key: 'c' },
        { op: 'ttl' as const, revision: 7, key: 'a', expiresAt: null },
      ],
    };
    expect(decodeMessage(encodeMessage(changes).trimEnd())).toEqual(changes);
  });

  it('reads a hello without an epoch (a leader before issue 16) as epoch 0, without a previous history', () => {
    expect(
      decodeMessage('{"type":"hello","protocol":1,"historyId":"h","revision":3,"sync":"full"}'),
    ).toMatchObject({ historyId: 'h', previous: null, epoch: 0 });
  });

  it.each([
    ['not JSON', '{'],
    [
      'a hello with a negative epoch',
      '{"type":"hello","historyId":"h","revision":1,"sync":"full","epoch":-1}',
    ],
    [
      'a hello with a malformed previous history',
      '{"type":"hello","historyId":"h","revision":1,"sync":"full","previous":{"revision":2}}',
    ],
    ['an unknown type', '{"type":"hi"}'],
    ['a hello without history', '{"type":"hello","revision":1,"sync":"full"}'],
    ['a negative revision', '{"type":"heartbeat","revision":-1}'],
    [
      'a put without a value',
      '{"type":"changes","txn":false,"changes":[{"op":"put","revision":1,"key":"a"}]}',
    ],
    [
      'an entry with a parsed value',
      '{"type":"entry","key":"a","value":1,"expiresAt":null,"createRevision":1,"modRevision":1,"version":1}',
    ],
  ])('refuses %s', (_what, line) => {
    expect(() => decodeMessage(line)).toThrow(ProtocolError);
  });
});
