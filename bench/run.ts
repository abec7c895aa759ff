/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (all when none is named). Each
 * prints its times and ratios against a baseline measured in the same run.
 */
const benches: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  interpolate: () => import('./interpolate.js'),
  runtime: () => import('./runtime.js'),
  lap: () => import('./lap.js'),
  analyze: () => import('./analyze.js'),
  align: () => import('./align.js'),
  layerwise: () => import('./layerwise.js'),
  merge: () => import('./merge.js'),
  memory: () => import('./memory.js'),
  process: () => import('./analyze-process.js'),
  runner: () => import('./runner.js'),
  stats: () => import('./stats.js'),
};

const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-'));
const selected = names.length > 0 ? names : Object.keys(benches);
for (const name of selected) {
  const load = benches[name];
  if (!load) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  await (await load()).main(args.filter((a) => a.startsWith('-')));
}
