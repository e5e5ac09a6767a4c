import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';

/**
 * The Chromium the browser tests drive: the headless build that the npm package
 * `@sparticuz/chromium` (a devDependency) carries inside its tarball as one brotli file, so
 * `npm ci` brings it from the npm registry with no install script and no browser download.
 *
 * The package's own `executablePath()` unpacks into the shared /tmp/chromium and reuses any
 * binary already there, whatever its version; this unpacks into the project's
 * `node_modules/.cache`, one folder per package version, once. It needs only the libnss3 and
 * libnspr4 that Debian bookworm machines have. CHROMIUM_PATH names another Chromium instead
 * (the package ships an x86-64 Linux build only).
 */
export async function chromiumExecutable(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `@sparticuz/chromium ships an x86-64 Linux Chromium; on ${process.platform}-${process.arch} set CHROMIUM_PATH`,
    );
  }
  // The package exports only its ESM entry point: locate its files from there.
  const packageDir = join(dirname(require.resolve('@sparticuz/chromium')), '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const cacheDir = join(__dirname, '..', '..', 'node_modules', '.cache', 'sparticuz-chromium');
  const executable = join(cacheDir, version, 'chromium');
  if (existsSync(executable)) return executable;

  mkdirSync(dirname(executable), { recursive: true });
  // Unpacked beside its final name and renamed, so a run killed half-way leaves no truncated
  // binary behind for the next one to trust.
  const partial = `${executable}.${process.pid}.partial`;
  try {
    await pipeline(
      createReadStream(join(packageDir, 'bin', 'chromium.br')),
      createBrotliDecompress(),
      createWriteStream(partial, { mode: 0o755 }),
    );
    await rename(partial, executable);
  } finally {
    await rm(partial, { force: true });
  }
  return executable;
}
