import { Counter, Gauge, Registry } from 'prom-client';
import { ReplicationStatus } from './replication-status';

/**
 * The replication series, read at scrape time. On a follower: its lag, link and resyncs; on a
 * leader: its followers and what it sent them.
 */
export function registerReplicationMetrics(registry: Registry, status: ReplicationStatus): void {
  const registers = [registry];
  const { follower, leader } = status;
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  if (follower) {
    gauge(
      'kv_replication_lag_revisions',
      "Revisions the follower is behind the leader's last known revision",
      () => follower.lagRevisions ?? 0,
    );
    gauge(
      'kv_replication_lag_seconds',
      'Seconds since the follower last had every change the leader had (-1 before it ever had)',
      () => follower.lagSeconds ?? -1,
    );
    gauge('kv_replication_connected', '1 while the follower is connected to its leader', () =>
      follower.connected ? 1 : 0,
    );
    counter(
      'kv_replication_received_bytes_total',
      'Bytes received from the leader',
      () => follower.bytesReceived,
    );
    counter(
      'kv_replication_full_resyncs_total',
      'Full resyncs (snapshot copies) completed by this follower',
      () => follower.fullResyncs,
    );
    counter(
      'kv_replication_partial_resyncs_total',
      "Connections that continued from the leader's history",
      () => follower.partialResyncs,
    );
    return;
  }
  gauge(
    'kv_replication_followers_connected',
    'Followers with a replication stream open',
    () => leader!.connectedFollowers,
  );
  counter(
    'kv_replication_sent_bytes_total',
    'Bytes written to followers',
    () => leader!.counters.bytesSent,
  );
  counter(
    'kv_replication_full_resyncs_total',
    'Follower connections served with a full copy',
    () => leader!.counters.fullResyncs,
  );
  counter(
    'kv_replication_partial_resyncs_total',
    "Follower connections that continued from this leader's history",
    () => leader!.counters.partialResyncs,
  );
}
