// The package as a user gets it: `npm pack`, then `npm install ./llfc-*.tgz` into an empty
// folder, offline, building the addon from source, then `npx llfc demo` there.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tempDir } from './helpers.js';

const root = realpathSync(fixture('..', '..'));
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The files the demo reads: the only fixtures the package ships. */
const demoFixtures = ['test/fixtures/models/mlp_a.onnx', 'test/fixtures/models/mlp_b.onnx', 'test/fixtures/data/fashion_test_x.npy', 'test/fixtures/data/fashion_test_y.npy'];

/**
 * A user's environment: nothing that points back into this repository (npm's lifecycle variables,
 * node_modules/.bin on PATH, NODE_PATH, an addon override), npm's own cache kept, and
 * onnxruntime-node's optional CUDA download skipped as scripts/setup.sh does.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.toLowerCase().startsWith('npm_') && !keep.has(key)) continue;
    if (['INIT_CWD', 'NODE_PATH', 'NODE_OPTIONS', 'LLFC_CUDA_ADDON', 'LLFC_BACKEND', 'LLFC_BUILD_DIR', 'LLFC_CUDA'].includes(key)) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !dir.startsWith(root)).join(delimiter);
  env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  return env;
}

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
}

const output = (r: SpawnSyncReturns<string>): string => `${r.stdout}\n${r.stderr}\n${r.error ?? ''}`;

/**
 * The install folder's lockfile pins llfc's dependencies to the versions this repository's
 * lockfile resolved, the ones `npm ci` put in the npm cache, so the offline install needs only
 * cached tarballs (npm ci caches no registry metadata to resolve version ranges with).
 */
function seedLockfile(dir: string): void {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, unknown> = { '': { name: 'llfc-install-check' } };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && !entry.dev) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'llfc-install-check', private: true }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'llfc-install-check', lockfileVersion: 3, requires: true, packages }));
}

describe('the npm package', () => {
  it('packs with its build script, dist, sources, docs and only the demo fixtures; installs offline into an empty folder, compiling the addon there; and `npx llfc demo` runs from it', () => {
    const r = run('npm', ['pack', '--pack-destination', tmp.dir, '--json'], root);
    expect(r.status, output(r)).toBe(0);
    const [packed] = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    for (const needed of ['scripts/build-native.js', 'CMakeLists.txt', 'native/addon.cc', 'bin/llfc.js', 'dist/index.js', 'dist/llfc-cli.js', 'dist/llfc-worker.js', 'docs/definitions.md', ...demoFixtures]) {
      expect(files, needed).toContain(needed);
    }
    // No prebuilt addon: the install must compile one. No other test data: the tarball stays small.
    expect(files.filter((f) => f.startsWith('build/') || f.startsWith('build-'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('test/')).sort()).toEqual([...demoFixtures].sort());

    const install = join(tmp.dir, 'install');
    mkdirSync(install);
    seedLockfile(install);
    copyFileSync(join(tmp.dir, packed!.filename), join(install, packed!.filename));
    const i = run('npm', ['install', '--offline', '--no-audit', '--no-fund', `./${packed!.filename}`], install);
    expect(i.status, output(i)).toBe(0);

    // The package is a copy inside the install folder, and its addon was compiled there, from source.
    const pkg = join(install, 'node_modules', 'llfc');
    expect(lstatSync(pkg).isSymbolicLink()).toBe(false);
    expect(realpathSync(pkg).startsWith(realpathSync(install) + sep)).toBe(true);
    expect(existsSync(join(pkg, 'build', 'Release', 'llfc.node'))).toBe(true);
    const cache = readFileSync(join(pkg, 'build', 'CMakeCache.txt'), 'utf8');
    expect(cache).toContain(`CMAKE_HOME_DIRECTORY:INTERNAL=${realpathSync(pkg)}\n`);
    // Node's headers came from the installed node-api-headers package, not from a download.
    const includes = cache.match(/^CMAKE_JS_INC:\w+=(.*)$/m)?.[1]?.split(';') ?? [];
    expect(includes).toContain(join(realpathSync(install), 'node_modules', 'node-api-headers', 'include'));
    for (const dir of includes) expect(dir.startsWith(realpathSync(install) + sep), dir).toBe(true);
    expect(readdirSync(join(pkg, 'build', 'Release'))).toEqual(['llfc.node']);

    const demo = run('npx', ['--offline', 'llfc', 'demo'], install);
    expect(demo.status, output(demo)).toBe(0);
    // The demo read the installed copy's fixtures (so ran the installed dist and its addon).
    expect(demo.stdout).toContain(`Analysis of ${join(realpathSync(pkg), 'test', 'fixtures', 'models', 'mlp_a.onnx')} (α=0)`);
    expect(demo.stdout).toMatch(/^barriers: loss \d+\.\d{4} · loss vs midpoint \d+\.\d{4} · accuracy \d+\.\d{2}%$/m);
    expect(demo.stdout).toMatch(/^loss barrier: naive \d+\.\d{4} → aligned \d+\.\d{4}$/m);
    // The same tables as the repository's own build prints.
    const local = run(process.execPath, [join(root, 'bin', 'llfc.js'), 'demo'], root);
    expect(local.status, output(local)).toBe(0);
    expect(demo.stdout.replaceAll(realpathSync(pkg), root)).toBe(local.stdout);
  }, 30 * 60_000);
});
