/**
 * MergeMany of 4 ResNet-18-sized models (torchvision ResNet-18, random init, generated here):
 * `llfc merge --method mergemany` against the numpy + scipy MergeMany (bench/merge_numpy.py over
 * scripts/fixtures/merge_reference.py), whole process against whole process: each reads the four
 * ONNX files and writes the merged model (llfc: ONNX + safetensors; numpy: ONNX + npz). Both on
 * 2 cores (taskset when present; numpy's BLAS with 2 threads). The numpy side is given llfc's
 * inferred spec as a file (what a hand-written script would carry); both use the same seeded
 * generator, so their objectives must agree for the timing to count. Target: ≥ 3×.
 *
 *   npm run bench -- merge [--reps=1] [--models=4] [--rounds=R]
 *
 * --rounds caps MergeMany's rounds on both sides (the same rounds, so the same work; default: to
 * convergence, 15 rounds for these models, which takes the numpy side a long time).
 *
 * LLFC_PYTHON picks the interpreter (default /usr/bin/python3); the models are generated once
 * into test/fixtures/generated/merge/ (git-ignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { inferSpec } from '../lib/align/spec/index.js';

const PYTHON = process.env.LLFC_PYTHON ?? '/usr/bin/python3';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BASELINE = join(root, 'bench', 'merge_numpy.py');
const GENERATED = join(root, 'test', 'fixtures', 'generated', 'merge');

function flag(args: string[], name: string, fallback: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** Runs a command on cores 0 and 1 (taskset when there is one) and times the whole process. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; stdout: string } {
  const pinned = spawnSync('taskset', ['--version']).status === 0 ? ['taskset', ['-c', '0,1', command, ...args]] : [command, args];
  const t0 = performance.now();
  const r = spawnSync(pinned[0] as string, pinned[1] as string[], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.error || r.status !== 0) throw new Error(`${command} ${args.slice(0, 2).join(' ')} failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { ms, stdout: r.stdout };
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

export async function main(args: string[]): Promise<void> {
  const reps = Number(flag(args, 'reps', '1'));
  const count = Number(flag(args, 'models', '4'));
  const rounds = flag(args, 'rounds', '100');
  const models = Array.from({ length: count }, (_, k) => join(GENERATED, `resnet18_${k}.onnx`));
  if (!models.every((m) => existsSync(m))) {
    mkdirSync(GENERATED, { recursive: true });
    console.log(`generating ${count} ResNet-18s (random init) into ${GENERATED} …`);
    timed(PYTHON, [BASELINE, 'make', GENERATED, String(count)]);
  }
  const first = await loadCheckpoint(models[0]!);
  const spec = await inferSpec(first);
  const dir = mkdtempSync(join(tmpdir(), 'llfc-bench-merge-'));
  try {
    const specFile = join(dir, 'spec.json');
    const uses = Object.fromEntries(first.parameters.map((p) => [`p${p.index}`, p.tensor]));
    const groups = spec.groups.map((g) => ({ size: g.size, actions: g.parameters.map((x) => [`p${x.parameter}`, x.axis, x.offset, x.inner]) }));
    writeFileSync(specFile, JSON.stringify({ uses, groups }));
    const llfcBin = join(root, 'bin', 'llfc.js');
    const ours: number[] = [];
    const theirs: number[] = [];
    let report: { merge: { objective: number; rounds: unknown[] } } | undefined;
    let baseline: { objective: number; rounds: number } | undefined;
    const pythonEnv = { ...process.env, OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2', MKL_NUM_THREADS: '2' };
    for (let k = 0; k < reps; k++) {
      const out = join(dir, `llfc_${k}.onnx`);
      const mine = timed(process.execPath, [llfcBin, 'merge', ...models, '-o', out, '--method', 'mergemany', '--max-rounds', rounds, '--json']);
      ours.push(mine.ms);
      report = JSON.parse(mine.stdout) as typeof report;
      const other = timed(PYTHON, [BASELINE, 'merge', specFile, join(dir, `numpy_${k}.onnx`), ...models, '--max-rounds', rounds], pythonEnv);
      theirs.push(other.ms);
      baseline = JSON.parse(other.stdout.trim().split('\n').at(-1)!) as typeof baseline;
    }
    const rel = Math.abs(report!.merge.objective - baseline!.objective) / Math.abs(baseline!.objective);
    const best = Math.min(...ours);
    const theirBest = Math.min(...theirs);
    console.log(`MergeMany of ${count} torchvision ResNet-18s (${(first.arena.length / 1e6).toFixed(2)}M parameters each, ${spec.groups.length} groups), whole process, 2 cores, best of ${reps}`);
    console.log(`  numpy + scipy: ${fmt(theirBest)} (${baseline!.rounds} rounds, objective ${baseline!.objective})`);
    console.log(`  llfc merge:    ${fmt(best)} (${report!.merge.rounds.length} rounds, objective ${report!.merge.objective})`);
    console.log(`  objective rel. diff ${rel.toExponential(1)}; speed-up ${rel <= 1e-6 ? `${(theirBest / best).toFixed(1)}×` : 'n/a (objectives differ)'} (target ≥ 3×)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
