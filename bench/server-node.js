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

/** { path, version, shown }: a Node binary, its `node --version`, and how the header names it. */
function nodeBinary(file) {
  const version = execFileSync(file, ['--version'], { encoding: 'utf8' }).trim();
  const relative = path.relative(ROOT, file);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
  return { path: file, version, shown: `${version} (${shown})` };
}

/** The project's Node 24 (node_modules/.bin/node), which every server runs on by default. */
function serverNode() {
  if (cached) return cached;
  if (!fs.existsSync(PROJECT_NODE)) {
    throw new Error(
      `${path.relative(ROOT, PROJECT_NODE)} not found: run "npm ci" (the devDependency "node" puts Node 24 there)`,
    );
  }
  cached = nodeBinary(PROJECT_NODE);
  return cached;
}

/**
 * --also-node=FILE: another Node binary (the system's /usr/bin/node) that the GET/PUT servers
 * also run on, beside the same servers on the project's Node, to measure what the runtime alone
 * changes in one run.
 */
function otherNode(file) {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new Error(`--also-node: ${resolved} not found`);
  const node = nodeBinary(resolved);
  if (node.version === serverNode().version)
    throw new Error(`--also-node: ${resolved} is ${node.version}, the servers' own Node`);
  return node;
}

module.exports = { otherNode, serverNode };
