// Builds the app only when a source changed since the last build: `npm start`, `npm run demo`, the
// benchmarks and the tests run it first, so they never run stale code and never rebuild (and empty dist/web
// under a running app) for nothing. `--stamp` records a finished build (the last step of `npm run build`).
// Standalone (no imports of the project), so that it runs from source before anything is built; the build's
// output goes to stderr, so a command whose stdout is a document (`npm run -s demo -- --json`) stays one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');
const STAMP = join(ROOT, 'dist', '.build-stamp');
// What the build reads (the tests run from source and are not among them).
const SOURCES = ['functions', 'shared', 'local-runner', 'scripts', 'bench', 'web'];
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'vite.config.ts'];

function newestMtime(path: string): number {
  const s = statSync(path, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether a source is newer than the last finished build (or there is none). */
export function isStale(): boolean {
  const built = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return [...SOURCES, ...FILES].some((p) => newestMtime(join(ROOT, p)) > built);
}

/** Runs `npm run build` when the build is stale; throws when the build fails. */
export function buildIfStale(): void {
  if (!isStale()) return;
  console.error('build: sources changed since the last build (or none yet): npm run build');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error('npm run build failed');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--stamp') {
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  } else {
    try {
      buildIfStale();
    } catch (err) {
      console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
    if (!existsSync(STAMP)) process.exit(1);
  }
}
