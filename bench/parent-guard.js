'use strict';

/**
 * Preloaded into every server the harness starts (`node -r bench/parent-guard.js ...`), so a
 * server never outlives the harness. The harness kills its children on exit, on errors and on
 * SIGINT/SIGTERM, but nothing runs in a process that is SIGKILLed (a CI timeout, `kill -9`):
 * its servers would be re-parented and keep their ports. Node has no PR_SET_PDEATHSIG, so we poll.
 *
 * The cost to the measured server is one unref'd timer firing twice a second.
 */

const startingParent = process.ppid;

const timer = setInterval(() => {
  // A changed ppid means our parent died and we were re-parented (to init or a subreaper).
  if (process.ppid === startingParent) return;
  clearInterval(timer);
  // SIGTERM first, so the server shuts down the way it normally does; force it if that hangs.
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 5000).unref();
}, 500);
timer.unref();
