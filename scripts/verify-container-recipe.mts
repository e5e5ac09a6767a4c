/**
 * Replays the container recipe (Dockerfile, docker-compose.yml and docker-compose.replication.yml)
 * outside a container: no Docker engine runs in CI or on the development machines. The files are
 * parsed with libraries (dockerfile-ast, yaml; .dockerignore with @balena/dockerignore), so their
 * layout is free.
 *
 *   node scripts/verify-container-recipe.mts [--static] [--dockerfile=PATH] [--compose=PATH]
 *
 * 1. Checks what the image and every service promise (docs/OPERATIONS.md, "Containers").
 * 2. Makes the build context: the repository's files less .dockerignore.
 * 3. Replays each stage in a temp dir standing for its WORKDIR: its COPY lines, and the RUN
 *    commands it knows (npm ci, npm run build); container-only ones are named, others fail.
 * 4. Starts CMD twice on one data dir, as `docker run` would (the image's ENV), then twice as
 *    compose would (its environment too), as a user who can write to DATA_DIR only.
 * 5. Starts the replication example's nodes together, as compose would, and checks that a write
 *    on the leader reaches both followers and that they send writers to the leader.
 * --compose=PATH checks that one file instead of both. --static stops after step 1. Ends with
 * "container recipe OK", or exits 1 saying why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import dockerignore from '@balena/dockerignore';
import {
  Cmd,
  Copy,
  DockerfileParser,
  Env,
  From,
  Healthcheck,
  JSONInstruction,
} from 'dockerfile-ast';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(dirname(process.argv[1]), '..');
const option = (name: string) =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const DOCKERFILE = resolve(option('dockerfile') ?? join(ROOT, 'Dockerfile'));
const COMPOSE_FILES = option('compose')
  ? [resolve(option('compose')!)]
  : ['docker-compose.yml', 'docker-compose.replication.yml'].map((file) => join(ROOT, file));
/** The image's `node` user; the replay runs the server as this uid when it runs as root. */
const IMAGE_UID = 1000;
const started = Date.now();

class RecipeError extends Error {}
const fail = (message: string): never => {
  throw new RecipeError(message);
};
const say = (text: string) =>
  process.stdout.write(`${text} [${((Date.now() - started) / 1000).toFixed(1)}s]\n`);

interface CopyStep {
  from?: string;
  sources: string[];
  dest: string;
}

interface Stage {
  name: string;
  image: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  steps: ({ copy: CopyStep } | { run: string[] })[];
  exposes: string[];
  volumes: string[];
  healthcheck?: { argv: string[]; timeoutMs: number };
  cmd?: string[];
}

/** The commands of RUN lines that the replay knows; any other fails it. */
const RUN_COMMANDS = {
  npmCi: /^npm ci( --[\w=-]+)*$/,
  npmRun: /^npm run [\w:-]+$/,
  // Empties the image's npm cache, to keep the layer small; here it would empty this machine's.
  notReplayed: /^npm cache clean --force$/,
  // The replay's own dirs stand for WORKDIR and the volume, and belong to the server's user.
  containerOnly: /^(mkdir -p|chown [\w-]+:[\w-]+)( \/[\w/-]+)+$/,
};

/** The stages of the Dockerfile, each with what it inherits from the stage it is built FROM. */
function readDockerfile(file: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(
    fs.readFileSync(file, 'utf8'),
  ).getInstructions()) {
    const keyword = instruction.getKeyword();
    const where = `Dockerfile line ${instruction.getRange().start.line + 1}, ${keyword}`;
    const args = instruction.getArguments().map((argument) => argument.getValue());
    const list = () => {
      const json = instruction instanceof JSONInstruction ? instruction.getJSONStrings() : [];
      return json.length > 0 ? json.map((item) => item.getJSONValue()) : args;
    };
    if (instruction.getVariables().length > 0) fail(`${where}: variables are not replayed`);
    if (instruction instanceof From) {
      const base = stages.find((stage) => stage.name === instruction.getImage());
      stages.push({
        name: instruction.getBuildStage() ?? String(stages.length),
        image: base?.image ?? instruction.getImage() ?? fail(`${where}: no image`),
        workdir: base?.workdir ?? '/',
        env: { ...base?.env },
        user: base?.user ?? 'root',
        steps: [],
        exposes: [],
        volumes: [],
      });
      continue;
    }
    const stage = stages.at(-1) ?? (keyword === 'ARG' ? undefined : fail(`${where} before FROM`));
    if (!stage) continue;
    if (instruction instanceof Env) {
      for (const p of instruction.getProperties())
        stage.env[p.getName()] = p.getUnescapedValue() ?? '';
    } else if (instruction instanceof Copy) {
      const parts = list();
      if (parts.length < 2 || instruction.getHeredocs().length > 0) fail(`${where}: not replayed`);
      // Not getFromFlag(): it returns null unless --from is the only flag (dockerfile-ast 0.7).
      const from =
        instruction
          .getFlags()
          .find((f) => f.getName() === 'from')
          ?.getValue() ?? undefined;
      stage.steps.push({ copy: { from, sources: parts.slice(0, -1), dest: parts.at(-1)! } });
    } else if (instruction instanceof Healthcheck) {
      const content = instruction.getArgumentsContent() ?? '';
      const command = instruction.getSubcommand();
      if (command?.getValue().toUpperCase() !== 'CMD') fail(`${where}: needs CMD [...]`);
      const flag = instruction
        .getFlags()
        .find((f) => f.getName() === 'timeout')
        ?.getValue();
      stage.healthcheck = {
        argv: execForm(content.slice(content.toUpperCase().indexOf('CMD') + 3), where),
        timeoutMs: flag ? durationMs(flag) : 30_000,
      };
    } else if (instruction instanceof Cmd) {
      stage.cmd = execForm(instruction.getArgumentsContent() ?? '', where);
    } else if (keyword === 'WORKDIR') {
      stage.workdir = posix.resolve(stage.workdir, args[0]);
    } else if (keyword === 'USER') {
      stage.user = args[0];
    } else if (keyword === 'EXPOSE') {
      stage.exposes.push(...args);
    } else if (keyword === 'VOLUME') {
      stage.volumes.push(...list());
    } else if (keyword === 'RUN') {
      const text = (instruction.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ');
      const commands = text.split('&&').map((command) => command.trim());
      const unknown = commands.find((c) => !Object.values(RUN_COMMANDS).some((re) => re.test(c)));
      if (unknown)
        fail(`RUN ${unknown}: not replayed here (teach scripts/verify-container-recipe.mts)`);
      stage.steps.push({ run: commands });
    } else if (!['ARG', 'LABEL', 'STOPSIGNAL'].includes(keyword)) {
      fail(`${where}: not replayed here (teach scripts/verify-container-recipe.mts)`);
    }
  }
  return stages.length > 0 ? stages : fail('the Dockerfile has no FROM');
}

function execForm(text: string, where: string): string[] {
  try {
    const argv: unknown = JSON.parse(text);
    if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === 'string'))
      return argv;
  } catch {
    // answered below
  }
  return fail(`${where}: needs the exec form, ["program", "arg", ...]`);
}

/** Go durations as Docker and compose write them: 1m30s, 500ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) fail(`cannot read the duration "${text}"`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

/** Compose's byte values: 1g, 512m, 1073741824 (binary units). */
function bytes(text: unknown): number {
  const match = /^(\d+)\s*([kmg]?)b?$/i.exec(String(text));
  if (!match) return fail(`cannot read the byte value "${String(text)}"`);
  return Number(match[1]) * 1024 ** ['', 'k', 'm', 'g'].indexOf(match[2].toLowerCase());
}

/** Compose's interpolation, on every string of the file: $$, ${VAR}, ${VAR:-x}, ${VAR:?msg}... */
function interpolate(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  if (typeof value !== 'string') return value;
  return value.replace(
    /\$(?:\$|\{(\w+)(?:(:?[-?+])([^}]*))?\}|(\w+))/g,
    (whole, braced?: string, op?: string, arg = '', bare?: string) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const current = env[name];
      const missing = current === undefined || (op?.startsWith(':') === true && current === '');
      if (op?.endsWith('?') && missing) fail(`docker-compose.yml needs ${name}: ${arg}`);
      if (op?.endsWith('-') && missing) return arg;
      if (op?.endsWith('+')) return missing ? '' : arg;
      return current ?? '';
    },
  );
}

interface Service {
  [key: string]: unknown;
  environment?: Record<string, unknown> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
}

/**
 * The services of a compose file that build this Dockerfile, interpolated as `docker compose up`
 * would, with YAML merge keys (`<<: *anchor`) resolved as compose resolves them.
 */
function readCompose(file: string, env: NodeJS.ProcessEnv) {
  const doc = interpolate(parseYaml(fs.readFileSync(file, 'utf8'), { merge: true }), env) as {
    services?: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
  const built = Object.entries(doc.services ?? {}).filter(([, service]) => service.build);
  if (built.length === 0) fail(`${relative(ROOT, file)}: no service with build:`);
  return built.map(([name, service]) => {
    const raw = service.environment ?? {};
    const environment: Record<string, string> = Array.isArray(raw)
      ? Object.fromEntries(
          raw.map((entry) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]),
        )
      : Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]));
    return { file, name, service, environment, namedVolumes: Object.keys(doc.volumes ?? {}) };
  });
}

type Compose = ReturnType<typeof readCompose>[number];

/** Step 1: what the image and a service promise (docs/OPERATIONS.md), on the parsed files. */
function checkRecipe(stages: Stage[], compose: Compose, withoutToken: () => unknown): void {
  const image = stages.at(-1)!;
  const { service: svc, environment: env } = compose;
  const list = (value: unknown) => [value ?? []].flat().map(String);
  const build = typeof svc.build === 'string' ? { context: svc.build } : (svc.build as object);
  const { context = '.', dockerfile = 'Dockerfile' } = build as Record<string, string>;
  const dataDir = env.DATA_DIR ?? image.env.DATA_DIR;
  const volumes = (svc.volumes ?? []).map((v) =>
    typeof v === 'string' ? v : `${v.source}:${v.target}`,
  );
  const volume = volumes.find((v) => v.split(':')[1] === dataDir)?.split(':')[0];
  const test = svc.healthcheck?.test;
  let startsWithoutToken = true;
  try {
    withoutToken();
  } catch (error) {
    if (!(error instanceof RecipeError)) throw error;
    startsWithoutToken = false;
  }
  const promises: [string, unknown][] = [
    ['the Dockerfile has a build stage and a runtime stage', stages.length >= 2],
    [`every stage is FROM ${image.image}`, stages.every((stage) => stage.image === image.image)],
    [
      `this replay runs on its Node major (${process.version})`,
      image.image.startsWith(`node:${process.versions.node.split('.')[0]}-`),
    ],
    [
      'every stage sets SCARF_ANALYTICS=false',
      stages.every((s) => s.env.SCARF_ANALYTICS === 'false'),
    ],
    ['the runtime stage sets NODE_ENV=production', image.env.NODE_ENV === 'production'],
    ['the runtime stage does not run as root', !['root', '0'].includes(image.user)],
    ['the image defaults to STORAGE=file', image.env.STORAGE === 'file'],
    ['the image declares DATA_DIR a VOLUME', image.volumes.includes(image.env.DATA_DIR)],
    ['the image EXPOSEs PORT', image.exposes.includes(image.env.PORT)],
    ['the image CMD runs node', image.cmd?.[0] === 'node'],
    // Liveness on purpose: docs/OPERATIONS.md, "Health check".
    ['the HEALTHCHECK calls /health', image.healthcheck?.argv.join(' ').includes("'/health'")],
    [
      'the service keeps the image HEALTHCHECK',
      !svc.healthcheck?.disable &&
        (test === undefined ||
          JSON.stringify(test) === JSON.stringify(['CMD', ...image.healthcheck!.argv])),
    ],
    [
      'the service builds this Dockerfile',
      option('dockerfile') ||
        option('compose') ||
        resolve(dirname(compose.file), context, dockerfile) === DOCKERFILE,
    ],
    ['the service uses STORAGE=file', (env.STORAGE ?? image.env.STORAGE) === 'file'],
    [
      'the service keeps DATA_DIR on a named volume',
      volume && compose.namedVolumes.includes(volume),
    ],
    ['the service restarts unless stopped', svc.restart === 'unless-stopped'],
    ['the service publishes PORT', list(svc.ports).some((p) => p.endsWith(`:${image.env.PORT}`))],
    ['the service keeps the image USER', svc.user === undefined],
    ['the service has read_only: true', svc.read_only === true],
    [
      'the service has cap_drop: [ALL] and no cap_add',
      list(svc.cap_drop).includes('ALL') && !svc.cap_add,
    ],
    [
      'the service has no-new-privileges:true',
      list(svc.security_opt).some((o) => /^no-new-privileges(:true)?$/.test(o)),
    ],
    [
      'the service has a mem_limit, and memswap_limit the same (no swap)',
      svc.mem_limit !== undefined && bytes(svc.memswap_limit ?? 0) === bytes(svc.mem_limit),
    ],
    [
      'the service sets NODE_OPTIONS, MAX_DATA_BYTES and MAX_BUFFERED_BYTES',
      env.NODE_OPTIONS && env.MAX_DATA_BYTES && env.MAX_BUFFERED_BYTES,
    ],
    ['the service has a stop_grace_period', svc.stop_grace_period],
    [
      'the service takes AUTH_TOKEN from KVSTORE_AUTH_TOKEN and needs it',
      env.AUTH_TOKEN && !startsWithoutToken,
    ],
  ];
  const where = `${compose.name} in ${relative(ROOT, compose.file)}`;
  const broken = promises
    .filter(([, kept]) => !kept)
    .map(
      ([promise]) => `not so: ${promise}${promise.startsWith('the service') ? ` (${where})` : ''}`,
    );
  if (broken.length > 0) fail(broken.join('\n'));
}

/**
 * Runs a command with the stage's ENV over this machine's environment (registry, proxy, CA),
 * less what an enclosing npm run adds; resolves to its stdout.
 */
function run(
  program: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^(npm_(?!config_)|npm_config_local_prefix$|INIT_CWD$|NODE_ENV$|NODE_OPTIONS$)/.test(key),
    ),
  );
  say(`  $ ${program} ${args.join(' ')}`);
  const child = spawn(program, args, {
    cwd,
    env: { ...inherited, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => ((stdout += chunk), (output += chunk)));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((done, reject) =>
    child.once('close', (code) =>
      code === 0
        ? done(stdout)
        : reject(
            new RecipeError(`${program} ${args.join(' ')} exited ${code}:\n${output.slice(-3000)}`),
          ),
    ),
  );
}

/** The build context as Docker sends it: every file of the directory less .dockerignore. */
function makeContext(dest: string): number {
  const ignoreFile = join(ROOT, '.dockerignore');
  const rules = fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8').split('\n') : [];
  const ignored = dockerignore().add(rules);
  // With no `!` exception an ignored directory is skipped whole, as Docker does (node_modules).
  const prune = !rules.some((rule) => rule.trim().startsWith('!'));
  let count = 0;
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!(prune && ignored.ignores(path))) walk(path);
      } else if (!ignored.ignores(path)) {
        fs.cpSync(join(ROOT, path), join(dest, path), { verbatimSymlinks: true });
        count++;
      }
    }
  };
  walk('');
  return count;
}

/** One COPY: sources from the context or from an earlier stage's dir, into this stage's. */
function replayCopy(step: CopyStep, stage: Stage, stages: Stage[], work: string) {
  const inside = (path: string, base: string, what: string) => {
    const rel = posix.relative(base, path);
    return rel.startsWith('..')
      ? fail(`COPY ${what} ${path} is outside ${base}, which the replay stands for`)
      : rel;
  };
  const source = step.from === undefined ? undefined : stages.find((s) => s.name === step.from);
  if (step.from !== undefined && !source)
    fail(`COPY --from=${step.from}: only earlier stages are replayed`);
  const sourceRoot = source ? join(work, `stage-${source.name}`) : join(work, 'context');
  const destPath = posix.resolve(stage.workdir, step.dest);
  const dest = join(work, `stage-${stage.name}`, inside(destPath, stage.workdir, 'destination'));
  const matches = step.sources.flatMap((pattern) => {
    const rel = inside(
      posix.resolve(source?.workdir ?? '/', pattern),
      source?.workdir ?? '/',
      'source',
    );
    const found = fs.globSync(rel, { cwd: sourceRoot });
    return found.length > 0
      ? found.map((f) => join(sourceRoot, f))
      : fail(`COPY ${pattern}: not in the ${source ? `stage ${source.name}` : 'build context'}`);
  });
  const intoDir = step.dest.endsWith('/') || matches.length > 1;
  for (const match of matches) {
    // As Docker: a directory's contents, not the directory; a file into a dir by its name.
    const target =
      fs.statSync(match).isDirectory() || !intoDir ? dest : join(dest, posix.basename(match));
    fs.cpSync(match, target, { recursive: true });
  }
  say(`  COPY ${step.from ? `--from=${step.from} ` : ''}${step.sources.join(' ')} -> ${destPath}`);
}

/**
 * Trees that an earlier replay installed, by lock and command. Outside the repository: Node looks
 * for a package a tree lacks in every node_modules above it, and the repository's would lend it.
 */
const TREES = join(tmpdir(), 'kvstore-recipe-trees');

/** The files an `npm ci` installs from; a tree is only ever compared beside copies of them. */
const MANIFESTS = ['package.json', 'package-lock.json'];

interface DryRunPlan {
  added: number;
  changed: number;
  remove: { path: string }[];
}

/**
 * Whether a package that a dry run in `home` would remove is one that an install script its
 * package.json allows put inside its own package: the `node` package installs its binary package
 * (and the installer it uses) under node_modules/node/node_modules. The lock does not list them,
 * so every tree a real `npm ci` made has them, and the dry run offers to remove them (`npm ci`
 * itself would put them back).
 */
function installedByScript(path: string, home: string): boolean {
  const manifest = JSON.parse(fs.readFileSync(join(home, 'package.json'), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  };
  const lock = JSON.parse(fs.readFileSync(join(home, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const inTree = relative(join(home, 'node_modules'), path);
  const allowed = Object.entries(manifest.allowScripts ?? {}).filter(([, allow]) => allow);
  return (
    !inTree.startsWith('..') &&
    allowed.some(([name]) => inTree.startsWith(`${name}/node_modules/`)) &&
    !(`node_modules/${inTree}` in lock.packages)
  );
}

const sameFile = (a: string, b: string) =>
  fs.existsSync(a) && fs.existsSync(b) && fs.readFileSync(a).equals(fs.readFileSync(b));

/**
 * `npm ci ARGS` in a stage, as cheaply as it can be proved. A tree that npm, asked for a dry run
 * of this very command against it, has nothing to add to, remove from (but what an allowed
 * install script put there) or change in, is the tree this step installs, and is linked instead
 * of unpacked again: the repository's own node_modules (what `npm ci` made of the same lock, so
 * the build stage's), or the one an earlier replay of the same lock and command installed.
 * Otherwise it is installed for real, from npm's cache where it can (--prefer-offline), and kept
 * for the next replay. Each candidate is checked where it lies, beside the same package.json and
 * lock: through a symlinked node_modules npm does not see the packages nested in it, and would
 * add them all again.
 */
async function replayNpmCi(
  args: string[],
  dir: string,
  env: Record<string, string>,
): Promise<void> {
  const hash = createHash('sha256');
  for (const file of MANIFESTS) hash.update(fs.readFileSync(join(dir, file)));
  const key = hash.update(args.join(' ')).digest('hex').slice(0, 16);
  const kept = join(TREES, key);
  const candidates = [ROOT, kept].filter(
    (home) =>
      fs.existsSync(join(home, 'node_modules')) &&
      MANIFESTS.every((file) => sameFile(join(home, file), join(dir, file))),
  );
  const link = join(dir, 'node_modules');
  for (const home of candidates) {
    const output = await run('npm', ['ci', ...args, '--dry-run', '--json'], home, env);
    const plan = JSON.parse(output.slice(output.indexOf('{'))) as DryRunPlan;
    const removed = plan.remove.filter((pkg) => !installedByScript(pkg.path, home));
    if (plan.added + plan.changed + removed.length === 0) {
      const tree = join(home, 'node_modules');
      say(`  npm ci --dry-run: nothing to add, remove or change in ${tree}: linked`);
      fs.symlinkSync(tree, link, 'dir');
      return;
    }
  }
  await run('npm', ['ci', ...args, '--prefer-offline'], dir, env);
  // Kept by a rename, so that a replay running beside this one never sees half a tree.
  const staging = fs.mkdtempSync(join(tmpdir(), 'kvstore-recipe-tree-'));
  fs.chmodSync(staging, 0o755);
  fs.renameSync(link, join(staging, 'node_modules'));
  for (const file of MANIFESTS) fs.copyFileSync(join(dir, file), join(staging, file));
  fs.mkdirSync(TREES, { recursive: true });
  // A kept tree that is here still did not match (or was kept without its manifests, by an
  // earlier version of this check): replaced.
  fs.rmSync(kept, { recursive: true, force: true });
  try {
    fs.renameSync(staging, kept);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true }); // another replay kept the same tree
  }
  fs.symlinkSync(join(kept, 'node_modules'), link, 'dir');
}

/** Step 3: each stage in order, in its own dir. */
async function replayStages(stages: Stage[], work: string): Promise<void> {
  for (const stage of stages) {
    say(`3. stage ${stage.name} (${stage.image}, WORKDIR ${stage.workdir})`);
    const dir = join(work, `stage-${stage.name}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const step of stage.steps) {
      if ('copy' in step) {
        replayCopy(step.copy, stage, stages, work);
        continue;
      }
      for (const command of step.run) {
        const args = command.split(/\s+/).slice(1);
        if (RUN_COMMANDS.npmCi.test(command)) await replayNpmCi(args.slice(1), dir, stage.env);
        else if (RUN_COMMANDS.npmRun.test(command)) await run('npm', args, dir, stage.env);
        else
          say(
            `  (${RUN_COMMANDS.notReplayed.test(command) ? 'not replayed' : 'container only'}) ${command}`,
          );
      }
    }
  }
  const runtime = join(work, `stage-${stages.at(-1)!.name}`);
  if (!fs.existsSync(join(runtime, stages.at(-1)!.cmd?.[1] ?? '')))
    fail('the runtime stage has no CMD script');
  if (fs.existsSync(join(runtime, 'src'))) fail('sources reached the runtime stage');
  // The server must find its packages in the runtime's tree alone, as in the image.
  const above = (path: string): string[] =>
    path === dirname(path) ? [] : [dirname(path), ...above(dirname(path))];
  const tree = fs.realpathSync(join(runtime, 'node_modules'));
  const lenders = [...above(dirname(tree)), ...above(runtime)].map((d) => join(d, 'node_modules'));
  if (lenders.some((path) => fs.existsSync(path)))
    fail(`a node_modules above the runtime stage: ${lenders.find((p) => fs.existsSync(p))}`);
  const lock = JSON.parse(fs.readFileSync(join(runtime, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const leaked = Object.entries(lock.packages).filter(
    ([path, p]) =>
      path !== '' && (p.dev || p.optional || p.devOptional) && fs.existsSync(join(runtime, path)),
  );
  if (leaked.length > 0)
    fail(`dev or optional packages in the runtime stage: ${leaked.map(([p]) => p).join(', ')}`);
}

/** The servers running now: killed if the replay stops half-way. */
const running = new Set<ChildProcess>();

interface Server {
  child: ChildProcess;
  url: string;
  startLine: string;
  log: () => string;
}

type User = { uid?: number; gid?: number };

/**
 * The dirs and the user the server runs as. As root (CI), it runs as the image's uid, which can
 * write to DATA_DIR only, as under compose's read_only; as another user, HOME and TMPDIR are
 * read-only and the runtime dir is not.
 */
function sandbox(work: string) {
  const root = process.getuid?.() === 0;
  const dataDir = join(work, 'data');
  const readOnly = join(work, 'read-only');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(readOnly);
  fs.chmodSync(work, 0o755);
  const tmp = join(work, 'tmpfs');
  fs.mkdirSync(tmp);
  if (root) {
    fs.chownSync(dataDir, IMAGE_UID, IMAGE_UID);
    fs.chownSync(tmp, IMAGE_UID, IMAGE_UID);
  } else fs.chmodSync(readOnly, 0o555);
  const user: User = root ? { uid: IMAGE_UID, gid: IMAGE_UID } : {};
  return {
    dataDir,
    readOnly,
    tmp,
    user,
    nodeDir: root ? nodeForImageUser(work) : dirname(process.execPath),
  };
}

/**
 * The image's uid may not reach this checkout's Node (a clone under a 0700 folder, as mktemp
 * makes), and PATH would then fall back to the system's older one: it gets a link (or copy) of
 * this Node in a folder of the replay's own, as the image has its Node in /usr/local/bin.
 */
function nodeForImageUser(work: string): string {
  const dir = join(work, 'node-bin');
  fs.mkdirSync(dir);
  const target = join(dir, 'node');
  try {
    fs.linkSync(process.execPath, target);
  } catch {
    fs.copyFileSync(process.execPath, target);
  }
  fs.chmodSync(target, 0o755);
  return dir;
}

async function startServer(
  runtime: string,
  cmd: string[],
  env: Record<string, string>,
  user: User,
): Promise<Server> {
  const child = spawn(cmd[0], cmd.slice(1), {
    cwd: runtime,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const line = output.split('\n').find((l) => l.includes('kvstore listening on'));
    const url = line && /listening on (http:\/\/[\d.]+:\d+)/.exec(line)?.[1];
    if (url) return { child, url, startLine: line, log: () => output };
    if (child.exitCode !== null || Date.now() > deadline)
      fail(`the server did not start:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopServer(server: Server, graceMs: number): Promise<void> {
  server.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise((done) => server.child.once('exit', (c, signal) => done(c ?? signal))),
    new Promise(
      (done) => (timer = setTimeout(() => done('no exit within stop_grace_period'), graceMs)),
    ),
  ]);
  clearTimeout(timer);
  if (code !== 0)
    fail(`on SIGTERM the server exited with ${String(code)}:\n${server.log().slice(-2000)}`);
  running.delete(server.child);
}

async function request(url: string, method = 'GET', body?: string, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method,
    body,
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function healthcheck(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  user: User,
  timeoutMs: number,
) {
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env,
    stdio: 'ignore',
    timeout: timeoutMs,
    ...user,
  });
  return new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
}

type Sandbox = ReturnType<typeof sandbox>;

/** The environment CMD runs with: the image's, the service's, on loopback, in the sandbox. */
function serverEnvironment(
  compose: Compose | undefined,
  env: Record<string, string>,
  data: string,
  box: Sandbox,
): Record<string, string> {
  const tmpfs = [compose?.service.tmpfs ?? []].flat().map((t) => String(t).split(':')[0]);
  if (tmpfs.some((t) => t !== '/tmp')) fail('a tmpfs other than /tmp is not replayed');
  fs.mkdirSync(data);
  if (box.user.uid !== undefined) fs.chownSync(data, IMAGE_UID, IMAGE_UID);
  return {
    PATH: `${box.nodeDir}:/usr/local/bin:/usr/bin:/bin`,
    HOME: box.readOnly,
    // Nothing else is writable: a write to os.tmpdir() fails unless compose mounts a tmpfs.
    TMPDIR: tmpfs.includes('/tmp') ? box.tmp : box.readOnly,
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: data,
  };
}

/** The server's start line as the replay reports it, once it is known to run on this Node. */
function checkStartLine(server: Server, storage: string): string {
  const line = server.startLine;
  if (!line.includes(`node: ${process.version}`))
    fail(`the server does not run on this checkout's Node ${process.version}: ${line}`);
  if (!line.includes(`storage: ${storage}`)) fail(`the server does not say storage: ${storage}`);
  return line.slice(line.indexOf('kvstore listening'), line.indexOf('; endpoints'));
}

/** Step 4: start, probe, write, stop, start again on the same data, read back, stop. */
async function replayRuns(stages: Stage[], compose: Compose, work: string, box: Sandbox) {
  const image = stages.at(-1)!;
  const runtime = join(work, `stage-${image.name}`);
  const { dataDir, user } = box;
  const graceMs = durationMs(String(compose.service.stop_grace_period));
  const runs = [
    { label: '`docker run kvstore` (the image ENV)', env: image.env, data: join(dataDir, 'run') },
    {
      label: 'docker compose (the image ENV + environment:)',
      env: { ...image.env, ...compose.environment },
      data: join(dataDir, 'compose'),
    },
  ];
  for (const { label, env, data } of runs) {
    const secret = env.AUTH_TOKEN;
    const serverEnv = serverEnvironment(compose, env, data, box);
    say(
      `4. ${label}: ${image.cmd!.join(' ')}, ${user.uid !== undefined ? `as uid ${IMAGE_UID}, DATA_DIR the only writable dir` : 'as this user, HOME and TMPDIR read-only'}`,
    );
    let server = await startServer(runtime, image.cmd!, serverEnv, user);
    say(`  ${checkStartLine(server, env.STORAGE)}`);
    const port = new URL(server.url).port;
    const probe = () =>
      healthcheck(
        image.healthcheck!.argv,
        runtime,
        { ...serverEnv, PORT: port },
        user,
        image.healthcheck!.timeoutMs,
      );
    if ((await probe()) !== 0) fail('the HEALTHCHECK command failed against a running server');
    if (secret) {
      const anonymous = await request(`${server.url}/key/recipe-check`);
      if (anonymous.status !== 401) fail(`GET /key without the token answered ${anonymous.status}`);
      if ((await request(`${server.url}/health`)).status !== 200)
        fail('GET /health is not open without the token');
    }
    const put = await request(`${server.url}/key/recipe-check`, 'PUT', '{"ok":true}', secret);
    if (put.status !== 200) fail(`PUT /key/recipe-check answered ${put.status} ${put.text}`);
    if (env.MAX_DATA_BYTES)
      checkMemory(server.startLine, await request(`${server.url}/metrics`), env, compose);
    await stopServer(server, graceMs);
    if (fs.readdirSync(data).length === 0) fail('STORAGE=file wrote nothing to DATA_DIR');
    say(
      `  HEALTHCHECK exit 0; PUT 200; SIGTERM: exit 0; DATA_DIR holds ${fs.readdirSync(data).join(' ')}`,
    );
    server = await startServer(runtime, image.cmd!, serverEnv, user);
    const get = await request(`${server.url}/key/recipe-check`, 'GET', undefined, secret);
    if (get.text !== '{"key":"recipe-check","value":{"ok":true}}')
      fail(`after a restart GET answered ${get.status} ${get.text}`);
    await stopServer(server, graceMs);
    if ((await probe()) === 0) fail('the HEALTHCHECK command succeeded with no server running');
    say(
      '  restarted on the same DATA_DIR: GET returns the value; SIGTERM: exit 0; HEALTHCHECK fails once stopped',
    );
  }
}

/**
 * Step 5: the services of one compose file started together, in depends_on order, on loopback:
 * `http://<service>:<port>` in an environment value (REPLICA_OF) becomes the URL of the server
 * started for that service, as compose's network would resolve it. A write on the leader must
 * reach every follower (read with its minRevision), and a write sent to a follower must be
 * redirected to the leader's ADVERTISE_URL with nothing stored there.
 */
async function replayCluster(stages: Stage[], services: Compose[], work: string, box: Sandbox) {
  const image = stages.at(-1)!;
  const runtime = join(work, `stage-${image.name}`);
  const file = relative(ROOT, services[0].file);
  const started = new Map<string, Server>();
  const needs = (svc: Compose) => [svc.service.depends_on ?? []].flat().map(String);
  const order = [...services].sort((a, b) => needs(a).length - needs(b).length);
  say(`5. ${file}: ${order.map((svc) => svc.name).join(', ')} started together, as compose would`);
  for (const svc of order) {
    const missing = needs(svc).find((name) => !started.has(name));
    if (missing) fail(`${svc.name} depends on ${missing}, which ${file} does not build`);
    const env = Object.fromEntries(
      Object.entries({ ...image.env, ...svc.environment }).map(([key, value]) => [
        key,
        value.replace(/\bhttp:\/\/([\w-]+):(\d+)/g, (url, host: string, port: string) => {
          if (!services.some((other) => other.name === host)) return url;
          if (port !== image.env.PORT) fail(`${svc.name}: ${key} ${url}: no service listens there`);
          return started.get(host)?.url ?? fail(`${svc.name}: ${key} names ${host}, not started`);
        }),
      ]),
    );
    const server = await startServer(
      runtime,
      image.cmd!,
      serverEnvironment(svc, env, join(box.dataDir, `${file}-${svc.name}`), box),
      box.user,
    );
    say(`  ${svc.name}: ${checkStartLine(server, env.STORAGE)}`);
    started.set(svc.name, server);
  }
  const leaders = order.filter((svc) => !svc.environment.REPLICA_OF);
  if (leaders.length !== 1)
    fail(`${file}: expected one leader (no REPLICA_OF), found ${leaders.length}`);
  const leader = started.get(leaders[0].name)!;
  const followers = order.filter((svc) => svc.environment.REPLICA_OF);
  const token = leaders[0].environment.AUTH_TOKEN;
  const key = '/key/recipe-replicated';
  const put = await request(`${leader.url}${key}`, 'PUT', '{"from":"leader"}', token);
  if (put.status !== 200) fail(`PUT ${key} on the leader answered ${put.status} ${put.text}`);
  const revision = put.headers.get('x-kv-revision');
  for (const svc of followers) {
    const follower = started.get(svc.name)!;
    const read = await request(
      `${follower.url}${key}?minRevision=${revision}`,
      'GET',
      undefined,
      token,
    );
    if (read.text !== '{"key":"recipe-replicated","value":{"from":"leader"}}')
      fail(`${svc.name}: GET ${key}?minRevision=${revision} answered ${read.status} ${read.text}`);
    const write = await request(`${follower.url}${key}`, 'PUT', '{"from":"follower"}', token);
    const location = `${leaders[0].environment.ADVERTISE_URL ?? svc.environment.REPLICA_OF}${key}`;
    if (write.status !== 307 || write.headers.get('location') !== location)
      fail(
        `${svc.name}: PUT ${key} answered ${write.status} ${write.headers.get('location')}, not 307 to ${location}`,
      );
    const after = await request(`${follower.url}${key}`, 'GET', undefined, token);
    if (after.text !== read.text)
      fail(`${svc.name}: a refused write changed the value: ${after.text}`);
  }
  const status = JSON.parse(
    (await request(`${leader.url}/replication`, 'GET', undefined, token)).text,
  ) as {
    followers?: { connected: boolean }[];
  };
  const connected = status.followers?.filter((f) => f.connected).length ?? 0;
  if (connected !== followers.length)
    fail(`the leader counts ${connected} connected followers, not ${followers.length}`);
  say(
    `  PUT on ${leaders[0].name} (revision ${revision}) read back on ${followers.map((f) => f.name).join(' and ')} with minRevision; their PUT: 307 to ${leaders[0].environment.ADVERTISE_URL}; ${connected} followers connected`,
  );
  for (const svc of [...order].reverse())
    await stopServer(started.get(svc.name)!, durationMs(String(svc.service.stop_grace_period)));
  say('  SIGTERM to each, followers first: exit 0');
}

/**
 * The memory budget of docs/OPERATIONS.md: MAX_DATA_BYTES at most a quarter of the V8 heap limit
 * the server reports (with compose's NODE_OPTIONS), and that limit, MAX_BUFFERED_BYTES and what
 * the process holds outside its heap (RSS less heap, measured) within mem_limit.
 */
function checkMemory(
  startLine: string,
  metrics: { text: string },
  env: Record<string, string>,
  compose: Compose,
) {
  const [, data, heap] =
    /MAX_DATA_BYTES: (\d+) of a (\d+)-byte heap/.exec(startLine) ??
    fail('no heap in the start line');
  const metric = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.text)?.[1] ?? fail(`no ${name}`));
  const outsideHeap =
    metric('process_resident_memory_bytes') - metric('nodejs_heap_size_total_bytes');
  const limit = bytes(compose.service.mem_limit);
  const needed = Number(heap) + Number(env.MAX_BUFFERED_BYTES) + outsideHeap;
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  say(
    `  memory: heap limit ${mib(Number(heap))} + MAX_BUFFERED_BYTES ${mib(Number(env.MAX_BUFFERED_BYTES))} + ${mib(outsideHeap)} outside the heap = ${mib(needed)} of mem_limit ${mib(limit)}; MAX_DATA_BYTES ${mib(Number(data))}`,
  );
  if (data !== env.MAX_DATA_BYTES)
    fail(`the server uses MAX_DATA_BYTES ${data}, not ${env.MAX_DATA_BYTES}`);
  if (Number(data) * 4 > Number(heap))
    fail(`MAX_DATA_BYTES is more than a quarter of the ${heap}-byte heap limit`);
  if (needed > limit) fail(`that is more than mem_limit ${limit}`);
}

async function main(): Promise<void> {
  const token = process.env.KVSTORE_AUTH_TOKEN || randomBytes(16).toString('hex');
  const env = { ...process.env, KVSTORE_AUTH_TOKEN: token };
  say(`1. ${[DOCKERFILE, ...COMPOSE_FILES].map((f) => relative(ROOT, f)).join(', ')}, parsed`);
  const stages = readDockerfile(DOCKERFILE);
  const files = COMPOSE_FILES.map((file) => readCompose(file, env));
  const broken = new Set<string>();
  for (const services of files) {
    const withoutToken = () =>
      readCompose(services[0].file, { ...env, KVSTORE_AUTH_TOKEN: undefined });
    for (const service of services) {
      try {
        checkRecipe(stages, service, withoutToken);
      } catch (error) {
        if (!(error instanceof RecipeError)) throw error;
        for (const line of error.message.split('\n')) broken.add(line);
      }
    }
  }
  if (broken.size > 0) fail([...broken].join('\n'));
  say(
    `  stages ${stages.map((s) => s.name).join(', ')}; services ${files
      .flat()
      .map((s) => s.name)
      .join(', ')}: the promises of docs/OPERATIONS.md hold`,
  );
  if (process.argv.includes('--static')) return;
  const work = fs.mkdtempSync(join(tmpdir(), 'kvstore-recipe-'));
  const cleanUp = () => {
    for (const child of running) child.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGTERM', () => (cleanUp(), process.exit(143)));
  process.once('SIGINT', () => (cleanUp(), process.exit(130)));
  try {
    say(
      `2. build context: ${makeContext(join(work, 'context'))} files (the directory less .dockerignore)`,
    );
    await replayStages(stages, work);
    const box = sandbox(work);
    for (const services of files) {
      if (services.length === 1) await replayRuns(stages, services[0], work, box);
      else await replayCluster(stages, services, work, box);
    }
  } finally {
    cleanUp();
  }
}

main().then(
  () =>
    process.stdout.write(
      `(${((Date.now() - started) / 1000).toFixed(1)} s in all)\ncontainer recipe OK\n`,
    ),
  (error: unknown) => {
    process.stderr.write(
      `container recipe FAILED: ${error instanceof RecipeError ? error.message : String((error as Error)?.stack ?? error)}\n`,
    );
    process.exit(1);
  },
);
