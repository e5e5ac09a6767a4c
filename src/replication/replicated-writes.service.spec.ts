import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app-config';
import { InvalidArgumentError } from '../kv/kv.errors';
import { NotEnoughReplicasError } from './not-enough-replicas.error';
import { ReadOnlyFollowerError } from './read-only-follower.error';
import { ReplicaAckTimeoutError } from './replica-ack-timeout.error';
import { ReplicaAcks } from './replica-acks';
import { ReplicatedWrites, WriteRequest } from './replicated-writes.service';
import { ReplicationStatus } from './replication-status';

interface Settings {
  writeReplicas: number;
  replicaAckTimeoutMs: number;
  minReplicas: number;
  minReplicasMaxLagS: number;
}

const defaults: Settings = {
  writeReplicas: 0,
  replicaAckTimeoutMs: 1000,
  minReplicas: 0,
  minReplicasMaxLagS: 10,
};

/** A leader with `known` followers, of which `inReach` count for MIN_REPLICAS. */
function leading(known: number, inReach = known) {
  const leader = {
    acks: new ReplicaAcks(),
    followers: Array.from({ length: known }, (_, i) => ({ id: `f${i}` })),
    followersInReach: jest.fn((_maxLagMs: number) => inReach),
  };
  return { leader, status: { leader, follower: undefined } };
}

function writesOn(status: object, settings: Partial<Settings> = {}): ReplicatedWrites {
  const values: Settings = { ...defaults, ...settings };
  const config = { get: (name: keyof Settings) => values[name] };
  return new ReplicatedWrites(
    status as unknown as ReplicationStatus,
    config as unknown as ConfigService<AppConfig, true>,
  );
}

const request = (headers: WriteRequest['headers'] = {}): WriteRequest => ({
  headers,
  url: '/key/a?ttl=5',
});

function answer() {
  const headers = new Map<string, string>();
  return { headers, header: (name: string, value: string) => headers.set(name, value) };
}

describe('ReplicatedWrites', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('refuses every write on a follower with the same path and query on its leader', () => {
    const status = { leader: undefined, follower: { leaderUrl: 'http://10.0.0.1:4000' } };
    const writes = writesOn(status);
    expect(() => writes.admit(request())).toThrow(ReadOnlyFollowerError);
    try {
      writes.admit({ headers: {}, url: '/raw', originalUrl: '/key/a%2Fb?ttl=5' });
    } catch (error) {
      expect(error).toMatchObject({
        leader: 'http://10.0.0.1:4000',
        location: 'http://10.0.0.1:4000/key/a%2Fb?ttl=5',
      });
    }
    expect.assertions(2);
  });

  it('reads the role at each request: a promoted follower admits writes at once', () => {
    const status: { leader?: object; follower?: object } = {
      follower: { leaderUrl: 'http://10.0.0.1:4000' },
    };
    const writes = writesOn(status);
    expect(() => writes.admit(request())).toThrow(ReadOnlyFollowerError);
    status.follower = undefined;
    status.leader = leading(0).leader;
    expect(writes.admit(request()).acknowledged(7, answer())).toBeUndefined();
  });

  it('waits for nothing when neither WRITE_REPLICAS nor X-Kv-Replicas asks', () => {
    const { status } = leading(2);
    const reply = answer();
    expect(writesOn(status).admit(request()).acknowledged(3, reply)).toBeUndefined();
    expect(reply.headers.size).toBe(0);
  });

  it('refuses a write before it is committed while fewer than MIN_REPLICAS are in reach', () => {
    const { leader, status } = leading(2, 1);
    const writes = writesOn(status, { minReplicas: 2, minReplicasMaxLagS: 3 });
    expect(() => writes.admit(request())).toThrow(NotEnoughReplicasError);
    expect(leader.followersInReach).toHaveBeenCalledWith(3000);
    leader.followersInReach.mockReturnValue(2);
    expect(() => writes.admit(request())).not.toThrow();
  });

  it.each(['x', '-1', '101', '1.5', '1000', ''])('refuses X-Kv-Replicas: %p', (value) => {
    const { status } = leading(2);
    expect(() => writesOn(status).admit(request({ 'x-kv-replicas': value }))).toThrow(
      InvalidArgumentError,
    );
  });

  it('refuses X-Kv-Replicas sent twice', () => {
    const { status } = leading(2);
    expect(() => writesOn(status).admit(request({ 'x-kv-replicas': ['1', '1'] }))).toThrow(
      InvalidArgumentError,
    );
  });

  it('answers once the asked followers acknowledged the revision, saying how many did', async () => {
    const { leader, status } = leading(2);
    const reply = answer();
    const write = writesOn(status, { writeReplicas: 2 }).admit(request());
    const settled = write.acknowledged(5, reply);
    leader.acks.acknowledge('f0', 5);
    leader.acks.acknowledge('f1', 6);
    await expect(settled).resolves.toBeUndefined();
    expect(reply.headers.get('X-Kv-Replicas-Acked')).toBe('2');
  });

  it('lets X-Kv-Replicas replace WRITE_REPLICAS either way, capped at the known followers', async () => {
    const { leader, status } = leading(1);
    const writes = writesOn(status, { writeReplicas: 1 });
    expect(writes.admit(request({ 'x-kv-replicas': '0' })).acknowledged(1, answer())).toBe(
      undefined,
    );
    const reply = answer();
    const capped = writes.admit(request({ 'x-kv-replicas': ' 3 ' })).acknowledged(2, reply);
    leader.acks.acknowledge('f0', 2);
    await expect(capped).resolves.toBeUndefined();
    expect(reply.headers.get('X-Kv-Replicas-Acked')).toBe('1');
  });

  it('does not cap WRITE_REPLICAS: too few followers time out with the write committed', async () => {
    const { leader, status } = leading(1);
    const reply = answer();
    const write = writesOn(status, { writeReplicas: 2, replicaAckTimeoutMs: 50 }).admit(request());
    const settled = write.acknowledged(4, reply);
    leader.acks.acknowledge('f0', 4);
    jest.advanceTimersByTime(50);
    await expect(settled).rejects.toBeInstanceOf(ReplicaAckTimeoutError);
    expect(reply.headers.get('X-Kv-Replicas-Acked')).toBe('1');
  });
});
