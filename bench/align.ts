/**
 * Weight matching: llfc (native GEMM costs + native assignment solver) against the numpy + scipy
 * implementation of the same algorithm (scripts/fixtures/weight_matching_reference.py), on the
 * same spec, the same arenas and the same group orders, timed in the same run. Objectives must
 * agree (relative 1e-6) for the timing to count.
 *
 *   npm run bench -- align [--reps=3] [--threads=1] [--no-python]
 *   node --import tsx bench/align.ts [same flags]
 *
 * Models: the trained MLP pair (test/fixtures/models/mlp_{a,b}.onnx), a ResNet-20 four times
 * as wide (test/fixtures/generated/resnet20x4_{a,b}.onnx, random init: write it with
 * `/usr/bin/python3 scripts/fixtures/make_align_fixtures.py --bench`; skipped when absent), the
 * trained byte GPT of the fixtures (2 blocks of 4 heads: the head steps) and a GPT-2-small-sized
 * pair (test/fixtures/generated/gpt124m_{a,b}.onnx, random init, 124M parameters, written by
 * `/usr/bin/python3 bench/make_large_models.py gpt124m` when absent: about 40 s, 1 GB).
 * --only=TEXT runs the cases whose name contains TEXT (e.g. --only=gpt-2). GPT-2 small is timed once
 * on each side (after llfc's warm-up run) whatever --reps says: numpy + scipy takes minutes.
 * --threads sets both llfc's GEMM threads and numpy's BLAS threads (default 1 each).
 * Wall time of the algorithm alone: spec inference and file loading are not timed on either side.
 * Target: ≥ 3× faster than numpy + scipy. LLFC_PYTHON picks the interpreter (default /usr/bin/python3).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCheckpoint, type Checkpoint } from '../lib/checkpoint.js';
import { Rng } from '../lib/align/random.js';
import { inferSpec, type PermutationSpec } from '../lib/align/spec/index.js';
import { weightMatching, type WeightMatchingResult } from '../lib/align/weight-matching.js';

const PYTHON = process.env.LLFC_PYTHON ?? '/usr/bin/python3';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const REFERENCE = join(root, 'scripts', 'fixtures', 'weight_matching_reference.py');
const MAX_SWEEPS = 100;

interface Case {
  readonly name: string;
  readonly a: string;
  readonly b: string;
  /** The command that writes a and b when they are absent: run here when `auto`, else named. */
  readonly make?: { readonly args: readonly string[]; readonly auto: boolean };
  /** At most this many timed runs per side (numpy + scipy takes minutes on GPT-2 small). */
  readonly maxReps?: number;
}

const CASES: Case[] = [
  { name: 'MLP 784-256-256-10 (trained)', a: 'test/fixtures/models/mlp_a.onnx', b: 'test/fixtures/models/mlp_b.onnx' },
  {
    name: 'ResNet-20 ×4 wide (random)',
    a: 'test/fixtures/generated/resnet20x4_a.onnx',
    b: 'test/fixtures/generated/resnet20x4_b.onnx',
    make: { args: ['scripts/fixtures/make_align_fixtures.py', '--bench'], auto: false },
  },
  { name: 'byte GPT, 2 blocks of 4 heads (trained)', a: 'test/fixtures/models/lm_untied_a.onnx', b: 'test/fixtures/models/lm_untied_b.onnx' },
  {
    name: 'GPT-2 small (random)',
    a: 'test/fixtures/generated/gpt124m_a.onnx',
    b: 'test/fixtures/generated/gpt124m_b.onnx',
    make: { args: ['bench/make_large_models.py', 'gpt124m'], auto: true },
    maxReps: 1,
  },
];

interface PythonResult {
  permutations: number[][];
  objective: number[];
  initialObjective: number;
  sweeps: number;
  seconds: number[];
}

function flag(args: string[], name: string, fallback: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** Seeded group orders, one per possible sweep (the same list goes to both implementations). */
function orders(groups: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: MAX_SWEEPS }, () => rng.shuffle(Array.from({ length: groups }, (_, i) => i)));
}

/** Writes the arenas and the spec (per parameter use) for the python reference. */
function exportCase(dir: string, a: Checkpoint, b: Checkpoint, spec: PermutationSpec, order: number[][]): void {
  const tensors: Record<string, { offset: number; shape: number[] }> = {};
  for (const p of a.parameters) tensors[`p${p.index}`] = { offset: p.offset, shape: [...p.shape] };
  const groups = spec.groups.map((g) => ({
    size: g.size,
    actions: g.parameters.map((x) => [`p${x.parameter}`, x.axis, x.offset, x.inner]),
    ...(g.carries ? { carries: g.carries } : {}),
  }));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ tensors, groups, orders: order }));
  writeFileSync(join(dir, 'a.f32'), Buffer.from(a.arena.buffer, a.arena.byteOffset, a.arena.byteLength));
  writeFileSync(join(dir, 'b.f32'), Buffer.from(b.arena.buffer, b.arena.byteOffset, b.arena.byteLength));
}

function runPython(dir: string, reps: number, threads: number): PythonResult | string {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const r = spawnSync(PYTHON, [REFERENCE, dir, '--repeat', String(reps)], { encoding: 'utf8', env });
  if (r.error || r.status !== 0) return `python reference failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-1)[0]}`;
  return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as PythonResult;
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

export async function main(args: string[]): Promise<void> {
  const allReps = Number(flag(args, 'reps', '3'));
  const threads = Number(flag(args, 'threads', '1'));
  const python = !args.includes('--no-python');
  const only = flag(args, 'only', '').toLowerCase();
  console.log(`weight matching, best of ${allReps} (GPT-2 small: 1); GEMM/BLAS threads ${threads}; same spec, arenas and group orders on both sides`);
  const header = ['model', 'params', 'groups', 'sweeps', 'numpy+scipy', 'llfc', 'speed-up', 'objective rel. diff', 'same permutations'];
  const rows: string[][] = [];
  for (const c of CASES.filter((x) => x.name.toLowerCase().includes(only))) {
    const fa = join(root, c.a);
    const fb = join(root, c.b);
    if ((!existsSync(fa) || !existsSync(fb)) && c.make) {
      const command = `${PYTHON} ${c.make.args.join(' ')}`;
      if (!c.make.auto) {
        console.log(`${c.name}: ${c.a} not found; write it with ${command} (skipped)`);
        continue;
      }
      console.log(`${c.name}: ${c.a} not found; writing it with ${command}`);
      const made = spawnSync(PYTHON, c.make.args, { cwd: root, stdio: 'inherit' });
      if (made.status !== 0) {
        console.log(`${c.name}: ${command} failed (skipped)`);
        continue;
      }
    }
    const reps = Math.min(allReps, c.maxReps ?? allReps);
    const [a, b] = await Promise.all([loadCheckpoint(fa), loadCheckpoint(fb)]);
    const spec = await inferSpec(b);
    const order = orders(spec.groups.length, 0);
    let ours: WeightMatchingResult | undefined;
    let best = Infinity;
    for (let k = 0; k < reps + 1; k++) {
      const t0 = performance.now();
      ours = await weightMatching(a, b, spec, { orders: order, threads });
      const ms = performance.now() - t0;
      if (k > 0 || reps === 0) best = Math.min(best, ms); // the first run warms up
    }
    let theirs: PythonResult | string = 'not run (--no-python)';
    if (python) {
      const dir = mkdtempSync(join(tmpdir(), 'llfc-bench-align-'));
      try {
        exportCase(dir, a, b, spec, order);
        theirs = runPython(dir, reps, threads);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const last = ours!.objective[ours!.objective.length - 1]!;
    if (typeof theirs === 'string') {
      rows.push([c.name, `${(a.arena.length / 1e6).toFixed(2)}M`, String(spec.groups.length), String(ours!.sweeps), theirs, fmt(best), '', '']);
      continue;
    }
    const theirBest = Math.min(...theirs.seconds) * 1000;
    const theirLast = theirs.objective[theirs.objective.length - 1]!;
    const rel = Math.abs(last - theirLast) / Math.abs(theirLast);
    const agree = rel <= 1e-6 && theirs.sweeps === ours!.sweeps;
    const samePerms = theirs.permutations.filter((p, g) => p.every((v, i) => v === ours!.permutations[g]![i])).length;
    rows.push([
      c.name,
      `${(a.arena.length / 1e6).toFixed(2)}M`,
      String(spec.groups.length),
      theirs.sweeps === ours!.sweeps ? String(ours!.sweeps) : `${ours!.sweeps} vs ${theirs.sweeps}`,
      fmt(theirBest),
      fmt(best),
      agree ? `${(theirBest / best).toFixed(1)}×` : 'n/a (objectives differ)',
      rel.toExponential(1),
      `${samePerms} of ${spec.groups.length} groups`,
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
