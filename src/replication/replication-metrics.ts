import { Counter, Gauge, Registry } from 'prom-client';
import { ReplicationStatus } from './replication-status';

/**
 * The replication series, read at scrape time from the role the node has then (it changes at
 * run time): a follower's lag, link and resyncs, a leader's followers and what it sent them.
 * The series of the other role read 0.
 */
export function registerReplicationMetrics(registry: Registry, status: ReplicationStatus): void {
  const registers = [registry];
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
  gauge('kv_replication_leader', '1 while this node leads, 0 while it follows', () =>
    status.leader ? 1 : 0,
  );
  counter(
    'kv_replication_discarded_revisions_total',
    'Revisions this node committed as a deposed leader and discarded to follow the new one',
    () => status.discarded.total,
  );
  gauge(
    'kv_replication_lag_revisions',
    "Follower: revisions behind the leader's last known revision",
    () => status.follower?.lagRevisions ?? 0,
  );
  gauge(
    'kv_replication_lag_seconds',
    'Follower: seconds since it last had every change the leader had (-1 before it ever had)',
    () => {
      const follower = status.follower;
      return follower ? (follower.lagSeconds ?? -1) : 0;
    },
  );
  gauge('kv_replication_connected', '1 while the follower is connected to its leader', () =>
    status.follower?.connected ? 1 : 0,
  );
  counter(
    'kv_replication_received_bytes_total',
    'Follower: bytes received from the leader',
    () => status.follower?.bytesReceived ?? 0,
  );
  gauge(
    'kv_replication_followers_connected',
    'Leader: followers with a replication stream open',
    () => status.leader?.connectedFollowers ?? 0,
  );
  counter(
    'kv_replication_sent_bytes_total',
    'Leader: bytes written to followers',
    () => status.leader?.counters.bytesSent ?? 0,
  );
  counter(
    'kv_replication_full_resyncs_total',
    'Full resyncs: completed by this follower, or served to followers by this leader',
    () => status.follower?.fullResyncs ?? status.leader!.counters.fullResyncs,
  );
  counter(
    'kv_replication_partial_resyncs_total',
    "Connections that continued from the leader's history, as a follower or as a leader",
    () => status.follower?.partialResyncs ?? status.leader!.counters.partialResyncs,
  );
}
