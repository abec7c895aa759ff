// Builds dist/ from lib/: the library compiled by tsc, one file per module (the package's API
// and types), and the CLI bundled by esbuild into dist/llfc-cli.js with its worker thread's
// script dist/llfc-worker.js. One file each loads in a third of the time that Node takes for the
// 140 modules and their dependencies one by one, and every CLI run pays that twice (the main
// thread and the worker). The bundles sit in dist/ itself, so the paths that modules find from
// their own location (the package root, build/Release/llfc.node) stay the same.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // onnxruntime-node loads its own native library from its package; the chart modules load only when a chart is drawn.
  external: ['onnxruntime-node', 'vega', 'vega-lite', '@resvg/resvg-js'],
  // CommonJS dependencies (commander's helpers, yauzl, cli-progress) call require() inside the ES module bundle.
  banner: { js: "import { createRequire as __llfcCreateRequire } from 'node:module'; const require = __llfcCreateRequire(import.meta.url);" },
};
await build({ ...common, entryPoints: [join(root, 'dist', 'worker', 'entry.js')], outfile: join(root, 'dist', 'llfc-worker.js') });
await build({ ...common, entryPoints: [join(root, 'dist', 'cli', 'bin.js')], outfile: join(root, 'dist', 'llfc-cli.js'), define: { LLFC_WORKER_BUNDLE: JSON.stringify('./llfc-worker.js') } });
