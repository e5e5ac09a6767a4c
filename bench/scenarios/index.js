'use strict';

/**
 * The scenarios. Each one starts what it needs, measures, stops what it started, and returns
 * { rows, notes, status, reason } for the report. Throughput figures of kvstore are always
 * ratios to something measured in the same run (the reference server, in-memory PUT, the same
 * server with fewer keys), because absolute numbers on a shared 2-core machine drift.
 */

const { getWorkload, putWorkload } = require('../load');
const { ackedWritesScenario } = require('./acked-writes');
const { compactionScenario } = require('./compaction');
const { expiryScenario } = require('./expiry');
const { firstLine } = require('./format');
const { memoryScenario } = require('./get-put-memory');
const { metricsCostScenario } = require('./metrics-cost');
const { FSYNC_POLICIES, startPool } = require('./pool');
const { putFileScenario } = require('./put-file');
const { putKeysScenario } = require('./put-keys');
const { replicationScenario } = require('./replication');
const { startupScenario } = require('./startup');
const { txnScenario } = require('./txn');

/**
 * name: for --only; quick: part of --quick; pool: uses the shared in-memory servers; floor:
 * shows the framework floor (nest-floor-server.js) unless --floor=off.
 */
const SCENARIOS = [
  {
    name: 'get-c1',
    quick: true,
    pool: true,
    floor: true,
    about: 'GET, 1 connection, 10,000 keys',
    run: memoryScenario('get-c1', 1, getWorkload),
  },
  {
    name: 'get-c50',
    quick: true,
    pool: true,
    floor: true,
    about: 'GET, 50 connections, 10,000 keys',
    run: memoryScenario('get-c50', 50, getWorkload),
  },
  {
    name: 'put-c1',
    quick: true,
    pool: true,
    floor: true,
    about: 'PUT cycling over 10,000 keys, 1 connection',
    run: memoryScenario('put-c1', 1, putWorkload),
  },
  {
    name: 'put-c50',
    quick: true,
    pool: true,
    floor: true,
    about: 'PUT cycling over 10,000 keys, 50 connections',
    run: memoryScenario('put-c50', 50, putWorkload),
  },
  {
    name: 'put-file',
    quick: true,
    pool: true,
    about: 'PUT c50 with STORAGE=file per FSYNC policy, vs in-memory PUT',
    run: putFileScenario,
  },
  {
    name: 'txn-c50',
    quick: false,
    pool: true,
    about: 'POST /txn (2 compares, 2 puts) c50 vs single-key PUT: transactions/s, keys written/s',
    run: txnScenario,
  },
  {
    name: 'metrics-cost',
    quick: false,
    pool: false,
    about: 'GET and PUT c50 in memory, METRICS_ENABLED=true vs false',
    run: metricsCostScenario,
  },
  {
    name: 'put-keys',
    quick: false,
    pool: false,
    about: 'PUT c50 with 1,000 vs --keys keys stored',
    run: putKeysScenario,
  },
  {
    name: 'startup',
    quick: false,
    pool: false,
    about: 'start-up time and RSS with --startup-keys keys on disk (100k and --keys)',
    run: startupScenario,
  },
  {
    name: 'expiry',
    quick: false,
    pool: false,
    about: 'GET p99 while --keys keys (file store) expire at one instant',
    run: expiryScenario,
  },
  {
    name: 'replication',
    quick: false,
    pool: false,
    about: 'PUT c50 on a leader with 2 followers vs none; follower lag under 10 s of PUT c50',
    run: replicationScenario,
  },
  {
    name: 'acked-writes',
    quick: false,
    pool: false,
    about: 'PUT c50 on a leader with WRITE_REPLICAS=1 vs one with an asynchronous follower',
    run: ackedWritesScenario,
  },
  {
    name: 'compaction',
    quick: false,
    pool: false,
    about: 'GET p99 during a file-store compaction copying --keys keys',
    run: compactionScenario,
  },
];

module.exports = { SCENARIOS, FSYNC_POLICIES, firstLine, startPool };
