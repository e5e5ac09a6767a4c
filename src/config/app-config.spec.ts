import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from './app-config';

describe('parseConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(parseConfig({})).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      httpAdapter: 'fastify',
      storage: 'memory',
      maxKeyBytes: 1024,
      maxValueBytes: 1024 * 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
      maxTxnOps: 128,
      maxTxnBytes: 4 * 1024 * 1024,
      sweepIntervalMs: 1000,
      replicaReadWaitMs: 1000,
      corsOrigin: '*',
      logLevel: 'info',
      authToken: null,
      metricsPublic: true,
      protectedMode: true,
      trustProxy: false,
    });
  });

  it('derives the byte limits from the heap limit unless they are set', () => {
    const heap = 256 * 1024 * 1024;
    expect(parseConfig({}, heap)).toMatchObject({
      maxDataBytes: 64 * 1024 * 1024,
      watchHistoryBytes: 16 * 1024 * 1024,
      watchQueueBytes: 16 * 1024 * 1024,
      heapLimitBytes: heap,
    });
    const set = {
      MAX_DATA_BYTES: '1048576',
      WATCH_HISTORY_BYTES: '4096',
      WATCH_QUEUE_BYTES: '2048',
    };
    expect(parseConfig(set, heap)).toMatchObject({
      maxDataBytes: 1048576,
      watchHistoryBytes: 4096,
      watchQueueBytes: 2048,
    });
  });

  it('lifts protected mode when a token is set or PROTECTED_MODE=false', () => {
    expect(parseConfig({ AUTH_TOKEN: 'secret' }).protectedMode).toBe(false);
    expect(parseConfig({ PROTECTED_MODE: 'false' }).protectedMode).toBe(false);
    expect(parseConfig({ PROTECTED_MODE: 'true', AUTH_TOKEN: 'secret' }).protectedMode).toBe(false);
    expect(parseConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
  });

  it('parses valid values', () => {
    expect(
      parseConfig({
        PORT: '8080',
        STORAGE: 'FILE',
        FSYNC: 'always',
        METRICS_ENABLED: 'false',
        METRICS_PUBLIC: 'false',
      }),
    ).toMatchObject({
      port: 8080,
      storage: 'file',
      fsync: 'always',
      metricsEnabled: false,
      metricsPublic: false,
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be an integer from 0 to 65535 (got "abc")'],
    [{ PORT: '70000' }, 'PORT must be an integer'],
    [{ STORAGE: 'redis' }, 'STORAGE must be one of memory, file (got "redis")'],
    [{ HTTP_ADAPTER: 'koa' }, 'HTTP_ADAPTER must be one of express, fastify'],
    [{ MAX_KEY_BYTES: '0' }, 'MAX_KEY_BYTES must be an integer'],
    [{ MAX_TXN_OPS: '0' }, 'MAX_TXN_OPS must be an integer from 1 to 10000'],
    [{ MAX_TXN_BYTES: '1' }, 'MAX_TXN_BYTES must be an integer from 2'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ RECOVER_TRUNCATE: 'maybe' }, 'RECOVER_TRUNCATE must be one of'],
    [{ MAX_DATA_BYTES: '1gb' }, 'MAX_DATA_BYTES must be an integer from 1024 to'],
    [{ MAX_DATA_BYTES: '1000' }, 'MAX_DATA_BYTES must be an integer from 1024 to'],
    [{ WATCH_HISTORY_BYTES: '-1' }, 'WATCH_HISTORY_BYTES must be an integer'],
    [{ WATCH_QUEUE_BYTES: '1.5' }, 'WATCH_QUEUE_BYTES must be an integer'],
    [{ PROTECTED_MODE: 'off' }, 'PROTECTED_MODE must be one of true, false'],
    [{ TRUST_PROXY: 'loopback' }, 'TRUST_PROXY must be one of true, false'],
    [{ AUTH_TOKEN: 'has space' }, 'AUTH_TOKEN must be a non-empty token'],
    [{ AUTH_TOKEN: 'a', AUTH_TOKEN_FILE: '/x' }, 'set AUTH_TOKEN or AUTH_TOKEN_FILE, not both'],
    [{ AUTH_TOKEN_FILE: '/nonexistent/token' }, 'AUTH_TOKEN_FILE cannot be read'],
    [{ MAX_BUFFERED_BYTES: '1k' }, 'MAX_BUFFERED_BYTES must be an integer'],
    [{ REPLICA_OF: 'leader:4000' }, 'REPLICA_OF must be an http:// or https:// URL'],
    [{ REPLICA_OF: 'ftp://leader' }, 'REPLICA_OF must be an http:// or https:// URL'],
    [{ ADVERTISE_URL: 'http://a:b@node:4000' }, 'ADVERTISE_URL must be an http:// or https://'],
    [{ REPLICATION_TOKEN: 'has space' }, 'REPLICATION_TOKEN must be a non-empty token'],
    [
      { REPLICATION_TOKEN: 'a', REPLICATION_TOKEN_FILE: '/x' },
      'set REPLICATION_TOKEN or REPLICATION_TOKEN_FILE, not both',
    ],
    [{ REPLICATION_TOKEN_FILE: '/nonexistent/t' }, 'REPLICATION_TOKEN_FILE cannot be read'],
    [{ REPLICA_MAX_LAG_S: '0' }, 'REPLICA_MAX_LAG_S must be an integer from 1'],
    [{ REPLICATION_HISTORY: '10' }, 'REPLICATION_HISTORY must be an integer from 1024'],
    [{ REPLICATION_BUFFER_BYTES: 'x' }, 'REPLICATION_BUFFER_BYTES must be an integer'],
    [{ WRITE_REPLICAS: '-1' }, 'WRITE_REPLICAS must be an integer from 0 to 100'],
    [{ WRITE_REPLICAS: '101' }, 'WRITE_REPLICAS must be an integer from 0 to 100'],
    [{ REPLICA_ACK_TIMEOUT_MS: '0' }, 'REPLICA_ACK_TIMEOUT_MS must be an integer from 1'],
    [{ MIN_REPLICAS: 'two' }, 'MIN_REPLICAS must be an integer from 0 to 100'],
    [{ MIN_REPLICAS_MAX_LAG_S: '0' }, 'MIN_REPLICAS_MAX_LAG_S must be an integer from 1'],
    [
      { REPLICATION_HISTORY: '4096', WATCH_HISTORY_BYTES: '8192' },
      'REPLICATION_HISTORY and WATCH_HISTORY_BYTES both bound',
    ],
    [
      { MAX_BUFFERED_BYTES: '2097152', MAX_VALUE_BYTES: '2097152' },
      'MAX_BUFFERED_BYTES (2097152) must be larger than MAX_VALUE_BYTES (2097152)',
    ],
  ])('refuses %j, naming the variable', (environment, message) => {
    expect(() => parseConfig(environment)).toThrow(ConfigError);
    expect(() => parseConfig(environment)).toThrow(message);
  });

  it('derives MAX_TXN_BYTES from MAX_VALUE_BYTES unless it is set', () => {
    expect(parseConfig({ MAX_VALUE_BYTES: '1000' }).maxTxnBytes).toBe(4000);
    const largeValues = {
      MAX_VALUE_BYTES: String(512 * 1024 * 1024),
      MAX_BUFFERED_BYTES: String(1024 * 1024 * 1024),
    };
    expect(parseConfig(largeValues).maxTxnBytes).toBe(512 * 1024 * 1024);
    expect(parseConfig({ MAX_VALUE_BYTES: '1000', MAX_TXN_BYTES: '1500' }).maxTxnBytes).toBe(1500);
  });

  it('takes REPLICA_READ_WAIT_MS from 0 to 60000 milliseconds', () => {
    expect(parseConfig({ REPLICA_READ_WAIT_MS: '0' }).replicaReadWaitMs).toBe(0);
    expect(parseConfig({ REPLICA_READ_WAIT_MS: '200' }).replicaReadWaitMs).toBe(200);
    for (const bad of ['-1', '60001', '1.5', 'soon']) {
      expect(() => parseConfig({ REPLICA_READ_WAIT_MS: bad })).toThrow(
        /REPLICA_READ_WAIT_MS must be/,
      );
    }
  });

  it('reads the replication settings', () => {
    expect(parseConfig({})).toMatchObject({
      replicaOf: null,
      advertiseUrl: null,
      replicationToken: null,
      replicaMaxLagS: 10,
      replicationBufferBytes: 64 * 1024 * 1024,
      watchHistory: 10_000,
      writeReplicas: 0,
      replicaAckTimeoutMs: 1000,
      minReplicas: 0,
      minReplicasMaxLagS: 10,
    });
    expect(
      parseConfig({
        WRITE_REPLICAS: '2',
        REPLICA_ACK_TIMEOUT_MS: '250',
        MIN_REPLICAS: '1',
        MIN_REPLICAS_MAX_LAG_S: '2',
      }),
    ).toMatchObject({
      writeReplicas: 2,
      replicaAckTimeoutMs: 250,
      minReplicas: 1,
      minReplicasMaxLagS: 2,
    });
    const config = parseConfig({
      REPLICA_OF: 'http://leader:4000/',
      ADVERTISE_URL: 'https://kv.example.com',
      REPLICATION_TOKEN: 'repl',
      REPLICA_MAX_LAG_S: '3',
      REPLICATION_HISTORY: String(100 * 1024 * 1024),
    });
    expect(config).toMatchObject({
      replicaOf: 'http://leader:4000',
      advertiseUrl: 'https://kv.example.com',
      replicationToken: 'repl',
      replicaMaxLagS: 3,
      watchHistoryBytes: 100 * 1024 * 1024,
      // The history's count follows its bytes: a change takes at least 100 of them.
      watchHistory: 1_048_576,
    });
    expect(parseConfig({ REPLICATION_HISTORY: '4096', WATCH_HISTORY: '7' }).watchHistory).toBe(7);
  });

  it('names every bad variable at once', () => {
    expect(() => parseConfig({ PORT: 'x', FSYNC: 'sometimes' })).toThrow(
      /PORT must be .*; FSYNC must be one of always, everysec, no/,
    );
  });

  it('reads the token from AUTH_TOKEN_FILE, without the trailing newline', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kv-config-')), 'token');
    writeFileSync(file, 'from-a-secret\n');
    expect(parseConfig({ AUTH_TOKEN_FILE: file }).authToken).toBe('from-a-secret');
  });
});
