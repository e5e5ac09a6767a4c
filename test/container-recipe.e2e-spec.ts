import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..');
const CHECK = join(ROOT, 'scripts', 'verify-container-recipe.mts');

/**
 * A build (tsc over src/), a production-only install (none when an earlier run left the same
 * tree: see the check), four server starts and a three-node cluster: about a minute and a half on
 * the shared 2-core machine.
 */
const TIMEOUT_MS = 300_000;

interface CheckRun {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs the check on this Node in its own process group, so that on timeout the whole tree (npm,
 * the server it started) gets SIGTERM and the check removes its temp dirs.
 */
function runCheck(args: string[], timeoutMs: number): Promise<CheckRun> {
  const child = spawn(process.execPath, [CHECK, ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0', KVSTORE_AUTH_TOKEN: 'recipe-check-token' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    output += `\n[test] no result after ${timeoutMs} ms: SIGTERM to the check's process group\n`;
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
  }, timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, output });
    }),
  );
}

const tail = (text: string, lines = 60) => text.trimEnd().split('\n').slice(-lines).join('\n');

describe('the container recipe (the Dockerfile and both compose files), replayed without Docker', () => {
  it(
    'builds, installs production dependencies only, and serves as `docker run` and as compose would',
    async () => {
      const run = await runCheck([], TIMEOUT_MS - 30_000);
      // The check's own report is the most useful failure message.
      if (run.code !== 0)
        throw new Error(`the check exited with ${run.code}:\n${tail(run.output)}`);
      expect(run.output.trimEnd().split('\n').pop()).toBe('container recipe OK');
      // What it proved, from its report: the image alone stores in DATA_DIR, compose's memory
      // settings reach the server, and the server ran with nothing else to write to.
      expect(run.output).toMatch(/`docker run kvstore`[^\n]*\n[^\n]*storage: file/);
      const { environment } = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).services
        .kvstore;
      expect(run.output).toContain(`MAX_DATA_BYTES: ${environment.MAX_DATA_BYTES} of a`);
      // As root (CI), the server ran as the image's uid; as another user, as that user.
      const runAs =
        process.getuid?.() === 0 ? 'as uid 1000, DATA_DIR the only writable dir' : 'as this user';
      expect(run.output).toContain(runAs);
      // The replication example ran as three nodes: a write on the leader reached both followers.
      expect(run.output).toMatch(
        /5\. docker-compose\.replication\.yml: leader, follower-1, follower-2 started together/,
      );
      expect(run.output).toMatch(/read back on follower-1 and follower-2 with minRevision/);
      expect(run.output).toContain('2 followers connected');
    },
    TIMEOUT_MS,
  );

  describe('reads the files with parsers, so it holds each promise whatever their layout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvstore-recipe-test-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const compose = () => parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
    const dockerfile = () => readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    /** The check's first step alone, on a changed copy of either file. */
    const staticCheck = (name: string, text: string) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      const flag = name.startsWith('Dockerfile') ? '--dockerfile' : '--compose';
      return runCheck(['--static', `${flag}=${file}`], 60_000);
    };

    it('accepts the same compose file written as JSON, with a list environment', async () => {
      const doc = compose();
      const service = doc.services.kvstore;
      service.environment = Object.entries(service.environment).map(([k, v]) => `${k}=${v}`);
      const run = await staticCheck('compose.json', JSON.stringify(doc));
      expect(run.output).toContain('container recipe OK');
      expect(run.code).toBe(0);
    });

    it.each([
      ['read_only', 'the service has read_only: true'],
      ['cap_drop', 'the service has cap_drop: [ALL] and no cap_add'],
      ['security_opt', 'the service has no-new-privileges:true'],
      ['mem_limit', 'the service has a mem_limit, and memswap_limit the same (no swap)'],
    ])('refuses a compose file without %s', async (key, promise) => {
      const doc = compose();
      delete doc.services.kvstore[key];
      const run = await staticCheck(`compose-${key}.yml`, JSON.stringify(doc));
      expect(run.code).toBe(1);
      expect(run.output).toContain(`not so: ${promise}`);
    });

    it('holds every node of the replication example to the same promises', async () => {
      const doc = parse(readFileSync(join(ROOT, 'docker-compose.replication.yml'), 'utf8'), {
        merge: true,
      });
      doc.services['follower-2'].read_only = false;
      const run = await staticCheck('compose-replication.json', JSON.stringify(doc));
      expect(run.code).toBe(1);
      expect(run.output).toContain('not so: the service has read_only: true (follower-2 in');
      expect(run.output).not.toContain('(leader in');
    });

    it('refuses a compose file that starts without KVSTORE_AUTH_TOKEN', async () => {
      const doc = compose();
      doc.services.kvstore.environment.AUTH_TOKEN = '${KVSTORE_AUTH_TOKEN:-}';
      const run = await staticCheck('compose-token.yml', JSON.stringify(doc));
      expect(run.code).toBe(1);
      expect(run.output).toContain('not so: the service takes AUTH_TOKEN from KVSTORE_AUTH_TOKEN');
    });

    it('refuses an image that keeps the application default, STORAGE=memory', async () => {
      const text = dockerfile().replace('STORAGE=file', 'STORAGE=memory');
      const run = await staticCheck('Dockerfile.memory', text);
      expect(run.code).toBe(1);
      expect(run.output).toContain('not so: the image defaults to STORAGE=file');
    });

    it('refuses a RUN line it cannot replay', async () => {
      const text = dockerfile().replace('RUN npm run build', 'RUN npm run build && curl -O x');
      const run = await staticCheck('Dockerfile.curl', text);
      expect(run.code).toBe(1);
      expect(run.output).toContain('RUN curl -O x: not replayed here');
    });
  });
});
