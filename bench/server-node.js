'use strict';

/**
 * The Node binary every server the benchmark starts runs on: the project's own Node 24, the
 * registry's `node` package at node_modules/.bin/node (what npm scripts find first on their
 * PATH), not whatever `node` ran the harness. Run by hand as `node bench/run.js` on a machine
 * whose system Node is older, the harness would otherwise measure the servers on that Node.
 */

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const PROJECT_NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

let cached = null;

/** { path, version, shown }: the binary, its `node --version`, and how the header names it. */
function serverNode() {
  if (cached) return cached;
  if (!fs.existsSync(PROJECT_NODE)) {
    throw new Error(
      `${path.relative(ROOT, PROJECT_NODE)} not found: run "npm ci" (the devDependency "node" puts Node 24 there)`,
    );
  }
  const version = execFileSync(PROJECT_NODE, ['--version'], { encoding: 'utf8' }).trim();
  cached = {
    path: PROJECT_NODE,
    version,
    shown: `${version} (${path.relative(ROOT, PROJECT_NODE)})`,
  };
  return cached;
}

module.exports = { serverNode };
