// Builds the native addon from source with cmake-js, offline: package.json's
// "binary.napi_versions" makes cmake-js take headers from node-api-headers.
// LLFC_CUDA=ON (or npm config llfc_cuda=on) also builds the CUDA variant, llfc_cuda.node.
// `--out DIR` (or LLFC_BUILD_DIR) builds into DIR instead of build/ (CI compiles the CUDA
// variant into build-cuda/ and leaves the CPU build the tests use alone).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const flag = (process.env.LLFC_CUDA ?? process.env.npm_config_llfc_cuda ?? 'OFF').toUpperCase();
const cuda = flag === 'ON' || flag === '1' || flag === 'TRUE';
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1] : process.env.LLFC_BUILD_DIR;
if (outIndex > 0 && !out) {
  console.error('build-native: --out needs a directory');
  process.exit(2);
}

const env = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? '2' };
if (cuda && !env.CUDACXX) {
  // CMake looks for nvcc on PATH; the toolkit's default place is tried too.
  const onPath = (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'nvcc')));
  if (!onPath && existsSync('/usr/local/cuda/bin/nvcc')) env.CUDACXX = '/usr/local/cuda/bin/nvcc';
}

const args = [cmakeJs, 'compile', '--config', 'Release', `--CDLLFC_CUDA=${cuda ? 'ON' : 'OFF'}`];
if (out) args.push('--out', out);
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env });
if (result.status === 0 && cuda && !existsSync(join(out ?? 'build', 'Release', 'llfc_cuda.node'))) {
  console.error('build-native: LLFC_CUDA=ON but llfc_cuda.node was not built (no nvcc?); the CPU addon was');
}
process.exit(result.status ?? 1);
