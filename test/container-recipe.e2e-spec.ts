import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const SCRIPT = join(ROOT, 'scripts', 'verify-container-recipe.sh');

/**
 * Two clean installs (full, then production-only), a build and two server starts: 1-3 minutes
 * on a 2-core machine, more while the rest of the suite runs beside it.
 */
const TIMEOUT_MS = 600_000;

interface ScriptRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/**
 * Runs the script in its own process group, so that on timeout the whole tree (npm, the server
 * it started) gets SIGTERM and the script's trap removes its temp dirs.
 */
function runScript(timeoutMs: number): Promise<ScriptRun> {
  const child = spawn('bash', [SCRIPT], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // docker-compose.yml requires the token from the environment, as `docker compose up` does.
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
    output += `\n[test] no result after ${timeoutMs} ms: SIGTERM to the script's process group\n`;
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
  }, timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, signal, output });
    }),
  );
}

const tail = (text: string, lines = 60) => text.trimEnd().split('\n').slice(-lines).join('\n');

describe('the container recipe (Dockerfile + docker-compose.yml), replayed without Docker', () => {
  it(
    'builds, installs production dependencies only, serves /health and a round trip, stops on SIGTERM with 0',
    async () => {
      const run = await runScript(TIMEOUT_MS - 30_000);
      const lastLine = run.output.trimEnd().split('\n').pop();
      // The script's own report is the most useful failure message.
      if (run.code !== 0 || lastLine !== 'container recipe OK') {
        throw new Error(
          `verify-container-recipe.sh exited with ${run.code ?? run.signal}; last lines:\n${tail(run.output)}`,
        );
      }
      expect(run.code).toBe(0);
      expect(lastLine).toBe('container recipe OK');
    },
    TIMEOUT_MS,
  );
});
