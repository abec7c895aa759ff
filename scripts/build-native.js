// Builds the native addon from source with cmake-js, offline: package.json's
// "binary.napi_versions" makes cmake-js take headers from node-api-headers.
// LLFC_CUDA=ON (or npm config llfc_cuda=on) also builds the CUDA kernels.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const cuda = (process.env.LLFC_CUDA ?? process.env.npm_config_llfc_cuda ?? 'OFF').toUpperCase();
const args = [cmakeJs, 'compile', '--config', 'Release', `--CDLLFC_CUDA=${cuda === 'ON' || cuda === '1' || cuda === 'TRUE' ? 'ON' : 'OFF'}`];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? '2' } });
process.exit(result.status ?? 1);
