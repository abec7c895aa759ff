/**
 * Linear assignment: llfc's native solver against scipy.optimize.linear_sum_assignment on the
 * same float32 matrices, timed in the same run (python3 is spawned for scipy and numpy), plus
 * the addon's float32 GEMM against numpy's.
 *
 *   npm run bench -- lap [--sizes=256,1024] [--kinds=uniform,abt,perm] [--reps=3] [--no-scipy]
 *   node --import tsx bench/lap.ts [same flags]
 *
 * Cost kinds (all maximized, as weight matching does), n × n:
 *   uniform  U[0, 1)
 *   abt      C = A·Bᵀ, A and B n × 4n standard Gaussian (weight-matching-like)
 *   perm     C = A·Bᵀ with B = (rows of A permuted) + 0.3·Gaussian noise (near-permutation)
 * "re-solve": C' = C + 0.01·σ(C)·Gaussian (a 1% change), solved cold and warm-started from
 * the column duals of C's solution.
 * Targets: ≥ 3× scipy on abt for n = 1024–4096; ≥ 5× on uniform and perm for n ≥ 2048;
 * never below 0.9×; GEMM ≥ 0.7× numpy on a 2048³ float32 product.
 * LLFC_PYTHON picks the interpreter (default python3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { linearSumAssignment, type LinearSumAssignmentResult } from '../lib/lap.js';
import { native } from '../lib/native.js';

const PYTHON = process.env.LLFC_PYTHON ?? 'python3';
const KINDS = ['uniform', 'abt', 'perm'] as const;
type Kind = (typeof KINDS)[number];

// ---- deterministic random numbers ------------------------------------------------------------

class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let x = this.s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  gauss(): number {
    if (this.spare !== null) {
      const g = this.spare;
      this.spare = null;
      return g;
    }
    const u = 1 - this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
  fillGauss(a: Float32Array): Float32Array {
    for (let i = 0; i < a.length; i++) a[i] = this.gauss();
    return a;
  }
}

/** The cost matrices of size n (float32, row-major); each kind has its own random stream. */
function costMatrices(n: number, kinds: readonly Kind[], seed: number): Map<Kind, Float32Array> {
  const out = new Map<Kind, Float32Array>();
  if (kinds.includes('uniform')) {
    const rng = new Rng(seed + 1);
    const u = new Float32Array(n * n);
    for (let i = 0; i < u.length; i++) u[i] = rng.next();
    out.set('uniform', u);
  }
  if (kinds.includes('abt') || kinds.includes('perm')) {
    const k = 4 * n;
    const a = new Rng(seed + 2).fillGauss(new Float32Array(n * k));
    const b = new Float32Array(n * k);
    if (kinds.includes('abt')) {
      new Rng(seed + 3).fillGauss(b);
      const c = new Float32Array(n * n);
      native().gemmAbt(a, b, n, n, k, c);
      out.set('abt', c);
    }
    if (kinds.includes('perm')) {
      const rng = new Rng(seed + 4);
      const p = Int32Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      for (let i = 0; i < n; i++) {
        const src = p[i]! * k;
        for (let t = 0; t < k; t++) b[i * k + t] = a[src + t]! + 0.3 * rng.gauss();
      }
      const c = new Float32Array(n * n);
      native().gemmAbt(a, b, n, n, k, c);
      out.set('perm', c);
    }
  }
  return out;
}

/** C + 0.01·σ(C)·N(0, 1). */
function perturb(c: Float32Array, seed: number): Float32Array {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < c.length; i++) {
    s += c[i]!;
    s2 += c[i]! * c[i]!;
  }
  const mean = s / c.length;
  const sigma = Math.sqrt(Math.max(0, s2 / c.length - mean * mean));
  const rng = new Rng(seed);
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = c[i]! + 0.01 * sigma * rng.gauss();
  return out;
}

function bestOf(reps: number, f: () => void): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

// ---- python side ----------------------------------------------------------------------------

const PY_LAP = String.raw`
import json, sys, time
import numpy as np
from scipy.optimize import linear_sum_assignment
jobs = json.loads(sys.argv[1])
out = {}
for job in jobs:
    c = np.fromfile(job["file"], dtype=np.float32).reshape(job["n"], job["n"])
    best, total = float("inf"), None
    for _ in range(job["reps"]):
        t0 = time.perf_counter()
        r, col = linear_sum_assignment(c, maximize=True)
        best = min(best, time.perf_counter() - t0)
        total = float(c[r, col].astype(np.float64).sum())
    out[job["kind"]] = {"ms": best * 1e3, "total": total}
print(json.dumps(out))
`;

const PY_GEMM = String.raw`
import json, sys, time
import numpy as np
n, reps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = a @ b.T
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    c = a @ b.T
    best = min(best, time.perf_counter() - t0)
info = ""
try:
    from threadpoolctl import threadpool_info
    info = ", ".join(f"{d.get('internal_api')} {d.get('version')} x{d.get('num_threads')}" for d in threadpool_info())
except Exception:
    pass
print(json.dumps({"ms": best * 1e3, "blas": info}))
`;

function python(args: string[], timeoutMs: number): { ok: true; out: string } | { ok: false; why: string } {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status !== 0) return { ok: false, why: (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-1)[0]! };
  return { ok: true, out: r.stdout.trim().split('\n').slice(-1)[0]! };
}

function scipyVersion(): string | null {
  const r = python(['-c', 'import numpy, scipy, sys; print(scipy.__version__, numpy.__version__, sys.version.split()[0])'], 60_000);
  return r.ok ? r.out : null;
}

// ---- output ----------------------------------------------------------------------------------

function cells(values: (string | number)[], widths: number[]): string {
  return values.map((v, i) => String(v).padStart(widths[i]!)).join(' ');
}
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtX = (x: number) => `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}×`;

type ScipyTimes = Record<string, { ms: number; total: number }>;

interface Row {
  n: number;
  kind: Kind;
  scipyMs: number | null;
  oursMs: number;
}

function flag(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
}

export async function main(args: string[] = []): Promise<void> {
  const sizes = (flag(args, 'sizes') ?? '256,512,1024,2048,4096').split(',').map(Number);
  const kinds = (flag(args, 'kinds') ?? KINDS.join(',')).split(',') as Kind[];
  for (const k of kinds) if (!KINDS.includes(k)) throw new Error(`unknown kind '${k}' (known: ${KINDS.join(', ')})`);
  const repsFlag = flag(args, 'reps');
  const withScipy = flag(args, 'no-scipy') === undefined;
  const withGemm = flag(args, 'no-gemm') === undefined;

  const versions = withScipy || withGemm ? scipyVersion() : null;
  if ((withScipy || withGemm) && versions === null) {
    console.log(`scipy/numpy not available from '${PYTHON}' (set LLFC_PYTHON): skipping the scipy and numpy timings`);
  }
  const [scipyV, numpyV, pyV] = versions?.split(' ') ?? [];
  console.log(
    `linear_sum_assignment, float32 costs, maximize=True; ours = llfc native (single thread)` +
      (versions ? `; scipy ${scipyV} / numpy ${numpyV} / python ${pyV}` : ''),
  );
  console.log('times: best of the repetitions (ms); re-solve: the matrix after a 1% change, cold vs warm-started from the previous duals');
  const widths = [5, 8, 10, 10, 8, 9, 10, 10, 7, 14];
  console.log(cells(['n', 'kind', 'scipy ms', 'ours ms', 'ratio', 'Δtotal', 'cold ms', 'warm ms', 'c/w', 'passes c/w'], widths));

  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'llfc-bench-lap-'));
  try {
    for (const n of sizes) {
      const reps = repsFlag !== undefined ? Number(repsFlag) : n <= 512 ? 10 : n <= 1024 ? 6 : n <= 2048 ? 4 : 3;
      const mats = costMatrices(n, kinds, 1234 + n);
      // Same number of repetitions on both sides, on the very same float32 matrices; ours are
      // split before and after scipy's, so that both sides see the machine's background load.
      const results = new Map<Kind, LinearSumAssignmentResult>();
      const oursMs = new Map<Kind, number>();
      const timeOurs = (r: number) => {
        for (const kind of kinds) {
          const c = mats.get(kind)!;
          const t = bestOf(r, () => results.set(kind, linearSumAssignment(c, n, n, { maximize: true })));
          oursMs.set(kind, Math.min(oursMs.get(kind) ?? Infinity, t));
        }
      };
      const useScipy = withScipy && versions !== null;
      timeOurs(useScipy ? Math.ceil(reps / 2) : reps);
      let scipy: ScipyTimes | null = null;
      if (useScipy) {
        const jobs = kinds.map((kind) => {
          const file = join(dir, `${kind}-${n}.f32`);
          const c = mats.get(kind)!;
          writeFileSync(file, new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
          return { kind, n, file, reps };
        });
        const r = python(['-c', PY_LAP, JSON.stringify(jobs)], 3_600_000);
        if (r.ok) scipy = JSON.parse(r.out) as ScipyTimes;
        else console.log(`  scipy failed for n=${n}: ${r.why}`);
        for (const j of jobs) rmSync(j.file, { force: true });
        if (reps > 1) timeOurs(Math.floor(reps / 2));
      }
      for (const kind of kinds) {
        const c = mats.get(kind)!;
        const result = results.get(kind)!;
        const changed = perturb(c, 99 + n);
        let cold = linearSumAssignment(changed, n, n, { maximize: true });
        const coldMs = bestOf(reps, () => {
          cold = linearSumAssignment(changed, n, n, { maximize: true });
        });
        let warm = linearSumAssignment(changed, n, n, { maximize: true, warmStart: result.colDuals });
        const warmMs = bestOf(reps, () => {
          warm = linearSumAssignment(changed, n, n, { maximize: true, warmStart: result.colDuals });
        });
        if (Math.abs(warm.total - cold.total) > 1e-9 * Math.abs(cold.total)) {
          throw new Error(`warm-started total ${warm.total} differs from cold ${cold.total} (${kind}, n=${n})`);
        }
        const s = scipy?.[kind];
        const delta = s ? Math.abs(result.total - s.total) / Math.max(1e-300, Math.abs(s.total)) : NaN;
        const ours = oursMs.get(kind)!;
        rows.push({ n, kind, scipyMs: s?.ms ?? null, oursMs: ours });
        console.log(
          cells(
            [
              n,
              kind,
              s ? fmtMs(s.ms) : '-',
              fmtMs(ours),
              s ? fmtX(s.ms / ours) : '-',
              s ? delta.toExponential(0) : '-',
              fmtMs(coldMs),
              fmtMs(warmMs) + (warm.warmStarted ? '' : '*'),
              fmtX(coldMs / warmMs),
              `${cold.stats.pathPasses}/${warm.stats.pathPasses}`,
            ],
            widths,
          ),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('(* = warm start fell back to a cold solve; Δtotal = |ours − scipy| / |scipy|; passes = dense row passes of the path searches)');

  // ---- GEMM -----------------------------------------------------------------------------------
  let gemmRatio: number | null = null;
  if (withGemm) {
    const n = 2048;
    const rng = new Rng(7);
    const a = rng.fillGauss(new Float32Array(n * n));
    const b = rng.fillGauss(new Float32Array(n * n));
    const c = new Float32Array(n * n);
    native().gemmAbt(a, b, n, n, n, c);
    const oursMs = bestOf(5, () => native().gemmAbt(a, b, n, n, n, c));
    const flops = 2 * n ** 3;
    let line = `\nGEMM C = A·Bᵀ, ${n}³ float32: llfc (Eigen, OpenMP) ${fmtMs(oursMs)} ms = ${(flops / oursMs / 1e6).toFixed(0)} GFLOP/s`;
    if (versions !== null) {
      const r = python(['-c', PY_GEMM, String(n), '5'], 600_000);
      if (r.ok) {
        const np = JSON.parse(r.out) as { ms: number; blas: string };
        gemmRatio = np.ms / oursMs;
        line += `; numpy a @ b.T ${fmtMs(np.ms)} ms = ${(flops / np.ms / 1e6).toFixed(0)} GFLOP/s${np.blas ? ` (${np.blas})` : ''}; numpy/ours = ${gemmRatio.toFixed(2)}`;
      } else {
        line += `; numpy failed: ${r.why}`;
      }
    }
    console.log(line);
  }

  // ---- targets --------------------------------------------------------------------------------
  const measured = rows.filter((r) => r.scipyMs !== null).map((r) => ({ ...r, ratio: r.scipyMs! / r.oursMs }));
  if (measured.length > 0 || gemmRatio !== null) {
    const check = (label: string, sel: typeof measured, min: number) => {
      if (sel.length === 0) return;
      const worst = sel.reduce((a, b) => (b.ratio < a.ratio ? b : a));
      console.log(`${worst.ratio >= min ? 'met   ' : 'MISSED'} ${label}: worst ${fmtX(worst.ratio)} (${worst.kind}, n=${worst.n})`);
    };
    console.log('\ntargets:');
    check('≥ 3× scipy on abt, n = 1024–4096', measured.filter((r) => r.kind === 'abt' && r.n >= 1024 && r.n <= 4096), 3);
    check('≥ 5× scipy on uniform and perm, n ≥ 2048', measured.filter((r) => r.kind !== 'abt' && r.n >= 2048), 5);
    check('never below 0.9× scipy', measured, 0.9);
    if (gemmRatio !== null) console.log(`${gemmRatio >= 0.7 ? 'met   ' : 'MISSED'} GEMM ≥ 0.7× numpy: ${gemmRatio.toFixed(2)}×`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
