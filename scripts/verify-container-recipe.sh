#!/usr/bin/env bash
# Replays the container recipe (Dockerfile + docker-compose.yml) outside a container.
#
# No Docker engine runs in CI or on the development machines, so an image can never be built
# there. This script does the next best thing, with the same inputs and the same commands:
#   1. checks that the Dockerfile and docker-compose.yml still hold their key lines;
#   2. makes the build context: the repository's files (tracked and untracked, less .gitignore)
#      less the .dockerignore patterns, copied into a temp dir;
#   3. walks each Dockerfile stage in order in its own temp dir (standing for its WORKDIR):
#      COPY lines are replayed from the context or from an earlier stage's dir, and the RUN lines
#      that install or build run as `npm ci`, `npm run build` and `npm ci --omit=dev
#      --omit=optional` (with --prefer-offline), on a Node of the image's major;
#      container-only RUN lines (mkdir/chown of /data) are reported and skipped;
#   4. starts the Dockerfile's CMD in the runtime stage's dir, in a clean environment made of the
#      runtime stage's ENV and docker-compose.yml's `environment:` entries (PORT, HOST and
#      DATA_DIR are overridden: a free loopback port and a temp data dir);
#   5. waits for GET /health, runs the HEALTHCHECK command itself (read from the Dockerfile, and
#      docker-compose.yml must repeat it), does a PUT/GET round trip, stops the server with
#      SIGTERM (exit code 0 required, within compose's stop_grace_period), starts it again on the
#      same data dir (a container restart on the named volume) and reads the key back, and
#      checks that the health check fails once the server is down.
# Ends with "container recipe OK"; any failure exits non-zero with the server's log.
#
# Usage: bash scripts/verify-container-recipe.sh     (about a minute; needs the npm registry or
#                                                     a warm npm cache)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="$ROOT/Dockerfile"
COMPOSE_FILE="$ROOT/docker-compose.yml"
HEALTH_PATH=/health
START_DEADLINE_S=60

step_name="setup"
server_pid=""
server_log=""
work="$(mktemp -d "${TMPDIR:-/tmp}/kvstore-recipe.XXXXXX")"

step() {
  step_name="$*"
  printf '\n== %s   [%ss]\n' "$*" "$SECONDS"
}

fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    if [ -n "$server_log" ] && [ -s "$server_log" ]; then
      printf '\n-- last lines of the server log (%s):\n' "$server_log" >&2
      tail -n 40 "$server_log" >&2 || true
    fi
    printf '\ncontainer recipe FAILED (exit %s) at step: %s\n' "$status" "$step_name" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The helper that reads the recipe. Plain Node (no dependencies), so it runs before any install.
# ---------------------------------------------------------------------------------------------
helper="$work/recipe.js"
cat >"$helper" <<'JS'
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { execFileSync } = require('node:child_process');

const die = (message) => {
  process.stderr.write(`recipe: ${message}\n`);
  process.exit(2);
};
const printNul = (items) => process.stdout.write(items.map((item) => `${item}\0`).join(''));

/** Dockerfile -> { stages: [{ name, index, workdir, env, user, steps }], final }. */
function parseDockerfile(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const instructions = [];
  let buffer = '';
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line) || line.trim() === '') continue; // comments and blank lines, even mid-instruction
    if (/\\\s*$/.test(line)) {
      buffer += line.replace(/\\\s*$/, ' ');
      continue;
    }
    buffer += line;
    const match = /^\s*(\w+)\s*(.*)$/.exec(buffer);
    buffer = '';
    if (!match) continue;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim() });
  }
  const stages = [];
  let stage = null;
  for (const { keyword, args } of instructions) {
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+as\s+(\S+))?$/i.exec(args);
      if (!from) die(`cannot read FROM ${args}`);
      const base = stages.find((s) => s.name === from[1]);
      stage = {
        name: from[2] || String(stages.length),
        index: stages.length,
        image: from[1],
        workdir: base ? base.workdir : '/',
        env: base ? { ...base.env } : {},
        user: base ? base.user : 'root',
        steps: [],
        exposes: [],
        volumes: [],
        healthcheck: null,
        cmd: null,
      };
      stages.push(stage);
      continue;
    }
    if (!stage) {
      if (keyword === 'ARG') continue;
      die(`${keyword} before the first FROM`);
    }
    switch (keyword) {
      case 'WORKDIR':
        noVariables(keyword, args);
        stage.workdir = path.posix.resolve(stage.workdir, args);
        break;
      case 'ENV':
        noVariables(keyword, args);
        Object.assign(stage.env, parseEnv(args));
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'EXPOSE':
        stage.exposes.push(...args.split(/\s+/));
        break;
      case 'VOLUME':
        stage.volumes.push(...(args.startsWith('[') ? JSON.parse(args) : args.split(/\s+/)));
        break;
      case 'COPY':
        noVariables(keyword, args);
        stage.steps.push({ kind: 'COPY', ...parseCopy(args), workdir: stage.workdir });
        break;
      case 'ADD':
        die('ADD cannot be replayed: use COPY');
        break;
      case 'RUN':
        stage.steps.push({ kind: 'RUN', command: args });
        break;
      case 'HEALTHCHECK': {
        const hc = /^((?:--[\w-]+=\S+\s+)*)CMD\s+(\[.*\])$/.exec(args);
        if (!hc) die('HEALTHCHECK must be `HEALTHCHECK [--option=value ...] CMD ["exec", ...]`');
        const timeout = /--timeout=(\S+)/.exec(hc[1]);
        stage.healthcheck = {
          argv: JSON.parse(hc[2]),
          timeoutSeconds: timeout ? durationSeconds(timeout[1]) : 30,
        };
        break;
      }
      case 'CMD':
        if (!args.startsWith('[')) die('CMD must use the exec (JSON) form');
        stage.cmd = JSON.parse(args);
        break;
      default:
        break; // LABEL, ARG, STOPSIGNAL, SHELL, ... do not change what is replayed
    }
  }
  if (stages.length === 0) die('no FROM in the Dockerfile');
  return { stages, final: stages[stages.length - 1] };
}

function noVariables(keyword, args) {
  if (args.includes('$')) die(`${keyword} ${args}: variables cannot be replayed here`);
}

/** Splits on unquoted whitespace; quotes and backslashes as a shell would (enough for ENV). */
function words(text) {
  const out = [];
  let current = '';
  let quote = null;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (quote) die(`unterminated quote in: ${text}`);
  if (started) out.push(current);
  return out;
}

function parseEnv(args) {
  const tokens = words(args);
  if (tokens.length > 0 && !tokens[0].includes('=')) {
    return { [tokens[0]]: tokens.slice(1).join(' ') }; // legacy `ENV KEY value`
  }
  const env = {};
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0) die(`cannot read ENV entry "${token}"`);
    env[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return env;
}

function parseCopy(args) {
  let parts;
  let from = null;
  const rest = args.replace(/^((?:--[\w-]+(?:=\S+)?\s+)*)/, (flags) => {
    const fromFlag = /--from=(\S+)/.exec(flags);
    if (fromFlag) from = fromFlag[1];
    return '';
  });
  if (rest.startsWith('[')) parts = JSON.parse(rest);
  else parts = words(rest);
  if (parts.length < 2) die(`COPY needs a source and a destination: ${args}`);
  return { from, sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}

function durationSeconds(text) {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g;
  let match;
  let consumed = '';
  while ((match = re.exec(text)) !== null) {
    consumed += match[0];
    const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 }[match[2]];
    total += Number(match[1]) * unit;
  }
  if (consumed !== text) die(`cannot read the duration "${text}"`);
  return total;
}

/**
 * docker-compose.yml, the few fields this check needs, read line by line (no YAML library before
 * the install): the service's `environment:` entries (`- KEY=value` or `KEY: value`, with
 * ${VAR}, ${VAR:-default} and ${VAR:?error} taken from this shell), `healthcheck.test` as a
 * one-line JSON array and `stop_grace_period`.
 */
function parseCompose(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const indentOf = (line) => line.length - line.trimStart().length;
  const blank = (line) => line.trim() === '' || line.trimStart().startsWith('#');
  const envBlocks = [];
  let healthcheck = null;
  let stopGrace = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (blank(line)) continue;
    if (/^\s*environment:\s*$/.test(line)) {
      const indent = indentOf(line);
      const env = {};
      for (let j = i + 1; j < lines.length; j++) {
        if (blank(lines[j])) continue;
        if (indentOf(lines[j]) <= indent) break;
        const item = lines[j].trim();
        const listItem = /^-\s+(.*)$/.exec(item);
        let key;
        let value;
        if (listItem) {
          const entry = unquote(listItem[1]);
          const eq = entry.indexOf('=');
          if (eq <= 0) die(`compose environment entry without "=": ${item}`);
          [key, value] = [entry.slice(0, eq), entry.slice(eq + 1)];
        } else {
          const mapItem = /^([\w.-]+):\s*(.*)$/.exec(item);
          if (!mapItem) die(`cannot read compose environment entry: ${item}`);
          [key, value] = [mapItem[1], unquote(mapItem[2])];
        }
        env[key] = interpolate(value);
      }
      envBlocks.push(env);
    } else if (/^\s*environment:\s*\S/.test(line)) {
      die('compose `environment:` must be a block (one entry per line)');
    }
    const test = /^\s*test:\s*(.*)$/.exec(line);
    if (test) {
      let text = test[1];
      for (let j = i + 1; !text.trimEnd().endsWith(']') && j < lines.length; j++) text += `\n${lines[j]}`;
      healthcheck = flowSequence(text);
    }
    const grace = /^\s*stop_grace_period:\s*(\S+)\s*$/.exec(line);
    if (grace) stopGrace = durationSeconds(unquote(grace[1]));
  }
  if (envBlocks.length !== 1) die(`expected one environment: block in compose, found ${envBlocks.length}`);
  return { env: envBlocks[0], healthcheck, stopGraceSeconds: stopGrace };
}

/** A YAML flow sequence of scalars, e.g. ["CMD", 'node', -e, "..."], over one or more lines. */
function flowSequence(text) {
  const items = [];
  let i = text.indexOf('[') + 1;
  if (i === 0) die('compose healthcheck `test:` must be a flow sequence: [CMD, ...]');
  for (;;) {
    while (/[\s,]/.test(text[i] ?? '')) i++;
    if (i >= text.length) die('compose healthcheck `test:` has no closing ]');
    if (text[i] === ']') return items;
    if (text[i] === "'") {
      let value = '';
      for (i++; ; i++) {
        if (i >= text.length) die('unterminated quote in compose healthcheck `test:`');
        if (text[i] === "'" && text[i + 1] === "'") (value += "'"), i++;
        else if (text[i] === "'") break;
        else value += text[i];
      }
      items.push(value);
      i++;
    } else if (text[i] === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
      if (!end) die('unterminated quote in compose healthcheck `test:`');
      items.push(JSON.parse(end[0]));
      i += end[0].length;
    } else {
      const plain = /^[^,\]]*/.exec(text.slice(i))[0];
      items.push(plain.trim());
      i += plain.length;
    }
  }
}

function unquote(text) {
  const t = text.trim();
  if (t.length >= 2 && ((t[0] === '"' && t.endsWith('"')) || (t[0] === "'" && t.endsWith("'")))) {
    return t.slice(1, -1);
  }
  return t;
}

function interpolate(value) {
  return value.replace(
    /\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}|\$(\w+)/g,
    (whole, name, colon, op, arg, bare) => {
      if (whole === '$$') return '$';
      const key = name || bare;
      const current = process.env[key];
      const missing = current === undefined || (colon === ':' && current === '');
      if (op === '-') return missing ? arg : current;
      if (op === '?' && missing) die(`compose needs ${key}: ${arg || 'not set'}`);
      return current ?? '';
    },
  );
}

/** .dockerignore, as Docker reads it: last match wins, `!` re-includes, a dir covers its files. */
function dockerignore(root) {
  const file = path.join(root, '.dockerignore');
  if (!fs.existsSync(file)) return () => false;
  const rules = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '');
      return { negate, re: globToRegExp(pattern.replace(/\/+$/, '')) };
    });
  return (relative) => {
    const parts = relative.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const { negate, re } of rules) {
      if (prefixes.some((p) => re.test(p))) ignored = !negate;
    }
    return ignored;
  };
}

function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[' && glob.indexOf(']', i) > i) {
      const end = glob.indexOf(']', i);
      re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The build context: what `git ls-files` sees (tracked + untracked, less .gitignore). */
function makeContext(root, dest) {
  const listed = execFileSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .split('\0')
    .filter(Boolean);
  const ignored = dockerignore(root);
  let count = 0;
  for (const relative of [...new Set(listed)]) {
    const source = path.join(root, relative);
    if (ignored(relative) || !fs.existsSync(source) || fs.statSync(source).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(dest, relative)), { recursive: true });
    fs.copyFileSync(source, path.join(dest, relative));
    count++;
  }
  console.log(`  ${count} files in the build context (${listed.length - count} left out by .dockerignore)`);
}

/** Replays one COPY: sources from the context or from an earlier stage's dir. */
function replayCopy(stage, step, recipe, work) {
  const stageDir = (s) => path.join(work, `stage-${s.name}`);
  let sourceRoot;
  let sourceWorkdir = '/';
  if (step.from) {
    const source = recipe.stages.find((s) => s.name === step.from);
    if (!source) die(`COPY --from=${step.from}: no such stage (images cannot be replayed)`);
    sourceRoot = stageDir(source);
    sourceWorkdir = source.workdir;
  } else {
    sourceRoot = path.join(work, 'context');
  }
  const inside = (absolute, base, what) => {
    const relative = path.posix.relative(base, absolute);
    if (relative.startsWith('..') || path.posix.isAbsolute(relative)) {
      die(`${what} ${absolute} is outside ${base}, which this replay cannot stand in for`);
    }
    return relative;
  };
  const destAbsolute = path.posix.resolve(step.workdir, step.dest);
  const dest = path.join(stageDir(stage), inside(destAbsolute, step.workdir, 'COPY destination'));
  const matches = [];
  for (const source of step.sources) {
    const relative = inside(path.posix.resolve(sourceWorkdir, source), sourceWorkdir, 'COPY source');
    const dir = path.dirname(relative);
    const base = path.basename(relative);
    if (/[*?[]/.test(base)) {
      const re = globToRegExp(base);
      const dirPath = path.join(sourceRoot, dir);
      const found = fs.existsSync(dirPath) ? fs.readdirSync(dirPath).filter((n) => re.test(n)) : [];
      if (found.length === 0) die(`COPY ${source}: no match in the ${step.from ? 'stage' : 'context'}`);
      matches.push(...found.map((n) => path.join(dirPath, n)));
    } else {
      const full = path.join(sourceRoot, relative);
      if (!fs.existsSync(full)) die(`COPY ${source}: not found in the ${step.from ? `stage ${step.from}` : 'build context'}`);
      matches.push(full);
    }
  }
  const destIsDir = step.dest.endsWith('/') || step.dest === '.' || matches.length > 1 || step.sources.some((s) => /[*?[]/.test(s));
  for (const match of matches) {
    if (fs.statSync(match).isDirectory()) {
      fs.cpSync(match, dest, { recursive: true }); // like Docker: the dir's contents, not the dir
    } else {
      const target = destIsDir ? path.join(dest, path.basename(match)) : dest;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(match, target);
    }
  }
  console.log(`  COPY ${step.from ? `--from=${step.from} ` : ''}${step.sources.join(' ')} -> ${destAbsolute}`);
}

function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => console.log(port));
  });
}

async function request(method, url, body) {
  const headers = { 'content-type': 'application/json' };
  if (process.env.RECIPE_AUTH_TOKEN) headers.authorization = `Bearer ${process.env.RECIPE_AUTH_TOKEN}`;
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(5000) });
    console.log(response.status);
    console.log(await response.text());
  } catch (error) {
    console.log(0);
    console.log(error instanceof Error ? error.message : String(error));
  }
}

const [command, ...args] = process.argv.slice(2);
const recipeFile = () => JSON.parse(fs.readFileSync(path.join(args[0], 'recipe.json'), 'utf8'));
switch (command) {
  case 'read': {
    // read WORK DOCKERFILE COMPOSE: checks the structure, writes WORK/recipe.json
    const [work, dockerfile, composeFile] = args;
    const recipe = parseDockerfile(dockerfile);
    const compose = parseCompose(composeFile);
    const { final } = recipe;
    const problems = [];
    if (recipe.stages.length < 2) problems.push('the Dockerfile is not multi-stage');
    if (final.user !== 'node') problems.push(`the runtime stage runs as "${final.user}", not node`);
    if (!final.exposes.includes('4000')) problems.push('the runtime stage does not EXPOSE 4000');
    if (!final.volumes.includes('/data')) problems.push('the runtime stage has no VOLUME /data');
    if (!final.healthcheck) problems.push('the runtime stage has no HEALTHCHECK');
    if (JSON.stringify(final.cmd) !== JSON.stringify(['node', 'dist/main.js'])) {
      problems.push(`the runtime CMD is ${JSON.stringify(final.cmd)}`);
    }
    if (final.healthcheck && !final.healthcheck.argv.join(' ').includes('/health')) {
      problems.push('the HEALTHCHECK does not call /health');
    }
    if (final.healthcheck && JSON.stringify(compose.healthcheck) !== JSON.stringify(['CMD', ...final.healthcheck.argv])) {
      problems.push('docker-compose.yml healthcheck.test is not ["CMD", ...the Dockerfile HEALTHCHECK]');
    }
    if (compose.stopGraceSeconds === null) problems.push('docker-compose.yml has no stop_grace_period');
    if (problems.length > 0) die(problems.join('\n'));
    fs.writeFileSync(path.join(work, 'recipe.json'), JSON.stringify({ ...recipe, compose }, null, 2));
    console.log(`  stages: ${recipe.stages.map((s) => `${s.name} (${s.image}, WORKDIR ${s.workdir})`).join(', ')}`);
    console.log(`  runtime: USER ${final.user}, EXPOSE ${final.exposes.join(' ')}, VOLUME ${final.volumes.join(' ')}, CMD ${JSON.stringify(final.cmd)}`);
    console.log(`  compose environment: ${Object.keys(compose.env).join(', ')}; stop_grace_period ${compose.stopGraceSeconds}s`);
    break;
  }
  case 'context':
    makeContext(args[1], path.join(args[0], 'context'));
    break;
  case 'stages':
    console.log(recipeFile().stages.map((s) => s.name).join('\n'));
    break;
  case 'steps': {
    // steps WORK STAGE: "index<TAB>kind<TAB>text" per step
    const stage = recipeFile().stages.find((s) => s.name === args[1]);
    stage.steps.forEach((s, i) => console.log(`${i}\t${s.kind}\t${s.kind === 'RUN' ? s.command : ''}`));
    break;
  }
  case 'copy': {
    const recipe = recipeFile();
    const stage = recipe.stages.find((s) => s.name === args[1]);
    replayCopy(stage, stage.steps[Number(args[2])], recipe, args[0]);
    break;
  }
  case 'stage-env': // KEY=value NUL-separated: the stage's ENV
    printNul(Object.entries(recipeFile().stages.find((s) => s.name === args[1]).env).map(([k, v]) => `${k}=${v}`));
    break;
  case 'runtime-env': {
    // the container's environment: runtime stage ENV, then compose environment
    const recipe = recipeFile();
    const env = { ...recipe.final.env, ...recipe.compose.env };
    printNul(Object.entries(env).map(([k, v]) => `${k}=${v}`));
    break;
  }
  case 'final':
    console.log(recipeFile().final.name);
    break;
  case 'cmd':
    printNul(recipeFile().final.cmd);
    break;
  case 'healthcheck':
    printNul(recipeFile().final.healthcheck.argv);
    break;
  case 'healthcheck-timeout':
    console.log(Math.ceil(recipeFile().final.healthcheck.timeoutSeconds));
    break;
  case 'stop-grace':
    console.log(Math.ceil(recipeFile().compose.stopGraceSeconds));
    break;
  case 'free-port':
    freePort();
    break;
  case 'request':
    request(args[0], args[1], args[2]);
    break;
  default:
    die(`unknown command ${command}`);
}
JS
recipe() { node "$helper" "$@"; }

# An HTTP call through Node's fetch: sets $status and $body.
status=""
body=""
http() {
  local out
  out="$(RECIPE_AUTH_TOKEN="${auth_token:-}" recipe request "$@")"
  status="${out%%$'\n'*}"
  body="${out#*$'\n'}"
}

# ---------------------------------------------------------------------------------------------
step "1. the Dockerfile and docker-compose.yml keep their key lines"
require() {
  local file="$1" what="$2" pattern="$3"
  grep -Eq -- "$pattern" "$file" || fail "$(basename "$file") lost: $what (/$pattern/)"
  printf '  ok  %-40s %s\n' "$what" "$(basename "$file")"
}
require "$DOCKERFILE" 'build stage FROM node:24-bookworm-slim' '^FROM[[:space:]]+node:24-bookworm-slim[[:space:]]+(AS|as)[[:space:]]+build[[:space:]]*$'
require "$DOCKERFILE" 'runtime stage FROM node:24-bookworm-slim' '^FROM[[:space:]]+node:24-bookworm-slim[[:space:]]+(AS|as)[[:space:]]+runtime[[:space:]]*$'
require "$DOCKERFILE" 'npm ci' '^RUN[[:space:]]+npm ci([[:space:]]|$)'
require "$DOCKERFILE" 'npm run build' '^RUN[[:space:]]+npm run build'
require "$DOCKERFILE" 'npm ci --omit=dev --omit=optional' '^RUN[[:space:]]+npm ci --omit=dev --omit=optional'
require "$DOCKERFILE" 'SCARF_ANALYTICS=false' 'SCARF_ANALYTICS=false'
require "$DOCKERFILE" 'NODE_ENV=production' 'NODE_ENV=production'
require "$DOCKERFILE" 'COPY --chown=node:node' '^COPY[[:space:]]+--chown=node:node'
require "$DOCKERFILE" 'USER node' '^USER[[:space:]]+node[[:space:]]*$'
require "$DOCKERFILE" 'EXPOSE 4000' '^EXPOSE[[:space:]]+4000[[:space:]]*$'
require "$DOCKERFILE" 'VOLUME /data' '^VOLUME[[:space:]]+(/data|\["/data"\])[[:space:]]*$'
require "$DOCKERFILE" 'HEALTHCHECK' '^HEALTHCHECK[[:space:]]'
require "$DOCKERFILE" 'CMD ["node","dist/main.js"]' '^CMD[[:space:]]+\["node",[[:space:]]*"dist/main\.js"\][[:space:]]*$'
require "$COMPOSE_FILE" 'STORAGE=file' '^[[:space:]]+-[[:space:]]+STORAGE=file[[:space:]]*$'
require "$COMPOSE_FILE" 'DATA_DIR=/data' '^[[:space:]]+-[[:space:]]+DATA_DIR=/data[[:space:]]*$'
require "$COMPOSE_FILE" 'FSYNC=everysec' '^[[:space:]]+-[[:space:]]+FSYNC=everysec[[:space:]]*$'
require "$COMPOSE_FILE" 'a named volume on /data' '^[[:space:]]+-[[:space:]]+[A-Za-z0-9_.-]+:/data[[:space:]]*$'
require "$COMPOSE_FILE" 'ports 4000:4000' '^[[:space:]]+-[[:space:]]+["'"'"']?4000:4000["'"'"']?[[:space:]]*$'
require "$COMPOSE_FILE" 'restart: unless-stopped' '^[[:space:]]+restart:[[:space:]]+unless-stopped[[:space:]]*$'
require "$COMPOSE_FILE" 'stop_grace_period' '^[[:space:]]+stop_grace_period:'
require "$DOCKERFILE" 'HTTP_ADAPTER=fastify' 'HTTP_ADAPTER=fastify'
require "$COMPOSE_FILE" 'HTTP_ADAPTER=fastify' '^[[:space:]]+-[[:space:]]+HTTP_ADAPTER=fastify[[:space:]]*$'
recipe read "$work" "$DOCKERFILE" "$COMPOSE_FILE"

# The image's Node major (FROM node:24-...): the RUN lines, the server and the health check run
# on a Node of that major, the project's own devDependency (node_modules/.bin/node) when the
# system one differs.
image_major="$(sed -nE 's/^FROM[[:space:]]+node:([0-9]+)-.*[[:space:]]+(AS|as)[[:space:]]+runtime[[:space:]]*$/\1/p' "$DOCKERFILE")"
node_major() { PATH="$1" node -p 'process.versions.node.split(".")[0]'; }
image_path="$PATH"
[ "$(node_major "$image_path")" = "$image_major" ] || image_path="$ROOT/node_modules/.bin:$PATH"
[ "$(node_major "$image_path")" = "$image_major" ] ||
  fail "no Node $image_major to stand for the image's (npm ci installs it in node_modules/.bin)"
printf '  Node %s stands for the image'"'"'s node:%s\n' "$(PATH="$image_path" node --version)" "$image_major"

# ---------------------------------------------------------------------------------------------
step "2. build context: repository files less .dockerignore"
mkdir -p "$work/context"
recipe context "$work" "$ROOT"

# ---------------------------------------------------------------------------------------------
# The environment of a RUN line: this shell's (the npm registry settings, CA certificates),
# without what an enclosing npm/jest run adds, plus the stage's own ENV lines.
run_in_stage() {
  local stage="$1"
  shift
  local stage_env=()
  mapfile -d '' stage_env < <(recipe stage-env "$work" "$stage")
  local scrub=(-u NODE_ENV -u npm_config_local_prefix -u npm_command -u npm_execpath -u npm_lifecycle_event
    -u npm_lifecycle_script -u npm_node_execpath -u npm_package_json -u npm_package_name -u npm_package_version)
  printf '  $ %s\n' "$*"
  # exec: npm is this script's own child, so a SIGTERM to the script waits for it to end.
  (cd "$work/stage-$stage" && exec env "${scrub[@]}" PATH="$image_path" "${stage_env[@]}" "$@" </dev/null)
}

mapfile -t stages < <(recipe stages "$work")
final_stage="$(recipe final "$work")"
for stage in "${stages[@]}"; do
  step "3. stage ${stage}: replayed in a temp dir standing for its WORKDIR"
  mkdir -p "$work/stage-$stage"
  ran_ci=0
  ran_build=0
  ran_prod=0
  while IFS=$'\t' read -r -u 3 index kind text; do
    if [ "$kind" = COPY ]; then
      recipe copy "$work" "$stage" "$index"
      continue
    fi
    case "$text" in
      *"npm ci --omit=dev --omit=optional"*)
        run_in_stage "$stage" npm ci --omit=dev --omit=optional --prefer-offline --no-audit --no-fund
        ran_prod=$((ran_prod + 1))
        ;;
      *"npm ci"*)
        run_in_stage "$stage" npm ci --prefer-offline --no-audit --no-fund
        ran_ci=$((ran_ci + 1))
        ;;
      *"npm run build"*)
        run_in_stage "$stage" npm run build
        ran_build=$((ran_build + 1))
        ;;
      *)
        printf '  (container only, not replayed) RUN %s\n' "$text"
        ;;
    esac
  done 3< <(recipe steps "$work" "$stage")
  if [ "$stage" = build ]; then
    if [ "$ran_ci" -ne 1 ] || [ "$ran_build" -ne 1 ]; then
      fail "the build stage must RUN npm ci, then npm run build"
    fi
    [ -f "$work/stage-build/dist/main.js" ] || fail "the build stage made no dist/main.js"
  fi
  if [ "$stage" = "$final_stage" ]; then
    if [ "$ran_prod" -ne 1 ] || [ "$ran_ci" -ne 0 ]; then
      fail "the runtime stage must install with npm ci --omit=dev --omit=optional only"
    fi
  fi
done

runtime_dir="$work/stage-$final_stage"
[ -f "$runtime_dir/dist/main.js" ] || fail "the runtime stage has no dist/main.js"
[ ! -e "$runtime_dir/node_modules/typescript" ] || fail "dev dependencies leaked into the runtime stage"
[ ! -e "$runtime_dir/src" ] || fail "sources leaked into the runtime stage"

# ---------------------------------------------------------------------------------------------
step "4. the container's environment: runtime ENV + docker-compose.yml environment"
port="$(recipe free-port)"
data_dir="$work/data"
mkdir -p "$data_dir" "$work/home"
container_env=()
mapfile -d '' container_env < <(recipe runtime-env "$work")
overrides=("PORT=$port" "HOST=127.0.0.1" "DATA_DIR=$data_dir")
server_env=("PATH=$image_path" "HOME=$work/home" "${container_env[@]}" "${overrides[@]}")
auth_token=""
storage=""
for entry in "${container_env[@]}"; do
  case "$entry" in
    AUTH_TOKEN=*) auth_token="${entry#AUTH_TOKEN=}" ;;
    STORAGE=*) storage="${entry#STORAGE=}" ;;
  esac
  case "$entry" in
    AUTH_TOKEN=* | AUTH_TOKEN_FILE=*) printf '  %s=<secret>\n' "${entry%%=*}" ;;
    *) printf '  %s\n' "$entry" ;;
  esac
done
printf '  overridden for this run (a free loopback port, a temp dir for the volume): %s\n' "${overrides[*]}"
cmd=()
mapfile -d '' cmd < <(recipe cmd "$work")
healthcheck=()
mapfile -d '' healthcheck < <(recipe healthcheck "$work")
healthcheck_timeout="$(recipe healthcheck-timeout "$work")"
stop_grace="$(recipe stop-grace "$work")"
base_url="http://127.0.0.1:$port"

start_server() {
  server_log="$work/server-$1.log"
  printf '  $ (cd %s && env -i ... %s) > %s\n' "$runtime_dir" "${cmd[*]}" "$server_log"
  (cd "$runtime_dir" && exec env -i "${server_env[@]}" "${cmd[@]}") >"$server_log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + START_DEADLINE_S))
  while :; do
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited during start-up"
    http GET "$base_url$HEALTH_PATH"
    [ "$status" = 200 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "GET $HEALTH_PATH did not answer 200 within ${START_DEADLINE_S}s (last: $status $body)"
    sleep 0.25
  done
  printf '  GET %s -> %s %s\n' "$HEALTH_PATH" "$status" "$body"
}

run_healthcheck() {
  (cd "$runtime_dir" && exec env -i "${server_env[@]}" timeout "$healthcheck_timeout" "${healthcheck[@]}")
}

stop_server() {
  kill -0 "$server_pid" 2>/dev/null || fail "the server had already exited before SIGTERM"
  printf '  kill -TERM %s\n' "$server_pid"
  kill -TERM "$server_pid"
  local deadline=$((SECONDS + stop_grace))
  while kill -0 "$server_pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the server did not stop within stop_grace_period (${stop_grace}s)"
    sleep 0.1
  done
  local code=0
  wait "$server_pid" || code=$?
  server_pid=""
  [ "$code" -eq 0 ] || fail "the server exited with code $code on SIGTERM (expected 0)"
  echo "  exited with code 0"
}

expected='{"key":"recipe-check","value":{"ok":true}}'
check_round_trip_value() {
  http GET "$base_url/key/recipe-check"
  [ "$status" = 200 ] || fail "GET /key/recipe-check answered $status $body"
  local canonical
  canonical="$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(process.argv[1])))' "$body")"
  [ "$canonical" = "$expected" ] || fail "GET /key/recipe-check returned $body, expected $expected"
  printf '  GET /key/recipe-check -> %s %s\n' "$status" "$canonical"
}

# ---------------------------------------------------------------------------------------------
step "5. start: ${cmd[*]} (runtime stage, port $port)"
start_server first

step "6. the HEALTHCHECK command, as Docker runs it"
printf '  $ %s\n' "${healthcheck[*]}"
run_healthcheck || fail "the HEALTHCHECK command failed against a healthy server"
echo "  exit 0 (healthy)"

step "7. PUT/GET round trip"
http PUT "$base_url/key/recipe-check" '{"ok":true}'
case "$status" in 2??) ;; *) fail "PUT /key/recipe-check answered $status $body" ;; esac
printf '  PUT /key/recipe-check {"ok":true} -> %s %s\n' "$status" "$body"
check_round_trip_value

step "8. SIGTERM: drains and exits 0"
stop_server

step "9. restart on the same data dir (a container restart on the volume)"
if [ "$storage" = file ]; then
  data_files="$(find "$data_dir" -mindepth 1 -maxdepth 1 -printf '%f ')"
  [ -n "$data_files" ] || fail "STORAGE=file wrote nothing to DATA_DIR"
  printf '  DATA_DIR holds: %s\n' "$data_files"
fi
start_server second
check_round_trip_value
stop_server

step "10. the HEALTHCHECK fails once the server is down"
if run_healthcheck; then
  fail "the HEALTHCHECK command succeeded with no server running"
fi
echo "  exit non-zero (unhealthy), as it should"

step_name="done"
printf '\n(%ss in all)\ncontainer recipe OK\n' "$SECONDS"
