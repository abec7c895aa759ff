/**
 * The full analyze pass (analyzePair: LMC on the 11-point α grid, and per layer and α ∈ {0.25,
 * 0.5, 0.75} LLFC, baseline, weak additivity, commutativity) on the MLP and ResNet fixtures,
 * against, in the same run:
 *  (a) the naive onnxruntime-node implementation of bench/naive-analyze.ts (a session and a run
 *      per α per batch, whole-dataset features kept, every metric in plain JS), checked to give
 *      the same numbers within 1e-6;
 *  (b) PyTorch eager with forward hooks (bench/torch_analyze.py, Debian's /usr/bin/python3),
 *      checked within 1e-4; skipped when torch is missing.
 * Targets: llfc ≥ 3× faster than (a), faster than (b). Each method gets a one-batch warm-up,
 * then the best wall time of --repeat interleaved runs; process CPU time is shown beside it.
 *
 * Then peak memory: analyzePair in a child process (process.resourceUsage().maxRSS, and VmHWM)
 * on 2k samples (the fixture .npy) and 10k samples (the Fashion-MNIST test set, IDX gz, skipped
 * when absent). It must not depend on the dataset size.
 *
 * Options, `--name=value` (`npm run bench -- analyze --models=mlp --repeat=1`, or
 * `node --import tsx bench/analyze.ts --threads=1`):
 *   --models=mlp,resnet  --samples=2000  --batch-size=256  --repeat=2
 *   --threads=N        pin onnxruntime (every session, llfc and naive alike) and torch to N
 *                      intra-op threads; default: onnxruntime's own pool, torch on every core
 *   --naive-feed=inputs  the naive pass with one session and θ(α) fed as graph inputs
 *                      (default: a session per α with θ(α) baked in, the faster of the two)
 *   --no-naive --no-torch --no-memory --no-timing
 *   --memory-naive     also the naive pass's peak memory (MLP: 2k and 10k; ResNet: 2k)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint, type Checkpoint } from '../lib/checkpoint.js';
import { analyzePair } from '../lib/checks/analyze.js';
import { linearLayers } from '../lib/checks/layers.js';
import { openDataset, type Dataset } from '../lib/dataset/index.js';
import { optionDefault } from '../lib/options.js';
import type { PairAnalysis } from '../lib/results.js';
import { fixture } from '../test/helpers.js';
import { analysisNumbers, compareAnalyses, naiveAnalyze } from './naive-analyze.js';
import { isMain, row } from './timing.js';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const FASHION = '/usr/share/datasets/fashion-mnist';
/** The image fixtures' normalization (scripts/fixtures/make_fixtures.py: MEAN, STD). */
export const NORMALIZE = { mean: [0.286], std: [0.353] };

interface Settings {
  models: string[];
  samples: number;
  batchSize: number;
  repeat: number;
  threads: number | undefined;
  naive: boolean;
  torch: boolean;
  memory: boolean;
  timing: boolean;
  memoryNaive: boolean;
  naiveFeed: 'initializers' | 'inputs';
}

function parse(args: string[]): Settings {
  const get = (k: string): string | undefined => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  const has = (k: string): boolean => args.includes(`--${k}`);
  const threads = get('threads');
  return {
    models: (get('models') ?? 'mlp,resnet').split(',').filter(Boolean),
    samples: Number(get('samples') ?? 2000),
    batchSize: Number(get('batch-size') ?? optionDefault('batchSize')),
    repeat: Number(get('repeat') ?? 2),
    threads: threads === undefined ? undefined : Number(threads),
    naive: !has('no-naive'),
    torch: !has('no-torch'),
    memory: !has('no-memory'),
    timing: !has('no-timing'),
    memoryNaive: has('memory-naive'),
    naiveFeed: get('naive-feed') === 'inputs' ? 'inputs' : 'initializers',
  };
}

/** Every onnxruntime session of this process (llfc's and the naive one's) gets `threads` intra-op threads. */
function pinOrtThreads(threads: number): void {
  type Create = (model: unknown, options?: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
  const session = ort.InferenceSession as unknown as { create: Create };
  const create = session.create.bind(ort.InferenceSession);
  session.create = (model, options) => create(model, { ...(options ?? {}), intraOpNumThreads: threads, interOpNumThreads: 1 });
}

const fashion2k = (samples = 2000): Promise<Dataset> =>
  openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: NORMALIZE, limit: samples });

const fashion10k = (): Promise<Dataset> =>
  openDataset({ data: join(FASHION, 't10k-images-idx3-ubyte.gz'), labels: join(FASHION, 't10k-labels-idx1-ubyte.gz'), normalize: NORMALIZE });

const pair = async (model: string): Promise<[Checkpoint, Checkpoint]> => [await loadCheckpoint(fixture('models', `${model}_a.onnx`)), await loadCheckpoint(fixture('models', `${model}_b.onnx`))];

let lastCpuMs = 0;

/** Wall time of f in ms (and its process CPU time, every thread, in lastCpuMs). */
async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  lastCpuMs = (c.user + c.system) / 1000;
  return [wall, r];
}

/** A PyTorch baseline's numbers: layers by ONNX tensor name, commutativity by ONNX node name. */
export interface TorchResults {
  lmc: { alphas: number[]; loss: number[]; accuracy: number[] };
  layers: Record<string, { llfc: PairAnalysis['layers'][number]['llfc']; baseline: number; weakAdditivity?: { alpha: number; distance: number }[] }>;
  commutativity: Record<string, { distCom: number; distW: number; distH: number }>;
}

interface TorchRun {
  ms?: number;
  cpuMs?: number;
  skipped?: string;
  threads?: number;
  results?: TorchResults;
}

function runTorch(model: string, s: Settings, results: boolean): TorchRun {
  if (!existsSync(PYTHON)) return { skipped: `${PYTHON} not found` };
  const args = [join(here, 'torch_analyze.py'), '--model', model, '--samples', String(s.samples), '--batch-size', String(s.batchSize), ...(s.threads ? ['--threads', String(s.threads)] : []), ...(results ? ['--results'] : [])];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as TorchRun;
  } catch {
    return { skipped: `torch_analyze.py failed (${r.status}): ${r.stderr.trim().split('\n').pop() ?? ''}` };
  }
}

/** Largest |difference| between analyzePair's numbers and torch's (keys as analysisNumbers makes them). */
export function compareTorch(ours: PairAnalysis, t: TorchResults): { maxDiff: number; worst: string; count: number } {
  const mine = analysisNumbers(ours);
  const theirs = new Map<string, number>();
  t.lmc.alphas.forEach((x, i) => {
    theirs.set(`lmc.loss@${x}`, t.lmc.loss[i]!);
    theirs.set(`lmc.accuracy@${x}`, t.lmc.accuracy[i]!);
  });
  for (const [name, l] of Object.entries(t.layers)) {
    for (const p of l.llfc) for (const k of ['distance', 'distanceStd', 'coefficient'] as const) theirs.set(`${name}.llfc@${p.alpha}.${k}`, p[k]);
    theirs.set(`${name}.baseline`, l.baseline);
    for (const p of l.weakAdditivity ?? []) theirs.set(`${name}.weakAdditivity@${p.alpha}.distance`, p.distance);
  }
  for (const [node, c] of Object.entries(t.commutativity)) for (const k of ['distCom', 'distW', 'distH'] as const) theirs.set(`${node}.${k}`, c[k]);
  let maxDiff = 0;
  let worst = '';
  let count = 0;
  for (const [k, v] of theirs) {
    const w = mine.get(k);
    if (w === undefined) {
      maxDiff = Infinity;
      worst = `${k} (missing in llfc)`;
      continue;
    }
    count++;
    const d = Math.abs(v - w);
    if (d > maxDiff) {
      maxDiff = d;
      worst = k;
    }
  }
  return { maxDiff, worst, count };
}

const fmt = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? '—' : ms.toFixed(0));
const ratio = (x: number | undefined, y: number): string => (x === undefined || !Number.isFinite(x) ? '—' : `${(x / y).toFixed(2)}×`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function timing(s: Settings): Promise<void> {
  console.log(`analyze pass: 11-point LMC + LLFC/weak additivity/commutativity at α ∈ {0.25, 0.5, 0.75}; batch ${s.batchSize}; best of ${s.repeat}, interleaved`);
  console.log(`threads: ${s.threads ? `${s.threads} (onnxruntime intra-op and torch)` : `defaults (onnxruntime's pool; torch ${cpus().length})`}; ${cpus().length} cores; load average before: ${load()}`);
  const widths = [8, 8, 9, 9, 9, 11, 10];
  const lines: string[] = [];
  const notes: string[] = [];
  for (const model of s.models) {
    const [a, b] = await pair(model);
    const data = await fashion2k(s.samples);
    const gemmHeavy = linearLayers(a).some((l) => l.op === 'Gemm' && a.parameters[l.weight]!.length >= 65536);
    const best = { llfc: Infinity, naive: Infinity, naiveOrtGemm: Infinity, torch: Infinity };
    const cpu = { llfc: NaN, naive: NaN, torch: NaN };
    // Warm-up on one batch (onnxruntime's first-session initialization, JIT), not timed.
    const warm = await fashion2k(s.batchSize);
    await analyzePair(a, b, warm, { batchSize: s.batchSize });
    if (s.naive) await naiveAnalyze(a, b, warm, { batchSize: s.batchSize, feed: s.naiveFeed });
    let naivePhases: Record<string, number> | undefined;
    let torchSkip: string | undefined;
    for (let rep = 0; rep < s.repeat; rep++) {
      const [tl, r] = await timed(() => analyzePair(a, b, data, { batchSize: s.batchSize }));
      if (tl < best.llfc) cpu.llfc = lastCpuMs;
      best.llfc = Math.min(best.llfc, tl);
      if (s.naive) {
        const [tn, nr] = await timed(() => naiveAnalyze(a, b, data, { batchSize: s.batchSize, feed: s.naiveFeed }));
        if (tn < best.naive) {
          cpu.naive = lastCpuMs;
          naivePhases = { ...nr.phases };
        }
        best.naive = Math.min(best.naive, tn);
        if (rep === 0) {
          const c = compareAnalyses(r, nr.analysis);
          const ok = c.maxDiff <= 1e-6 && c.missing.length === 0;
          notes.push(`${model}: naive = llfc on all ${c.count} numbers within 1e-6: ${ok ? 'yes' : 'NO'} (max |Δ| ${c.maxDiff.toExponential(2)} at ${c.worst}${c.missing.length ? `; missing ${c.missing.join(', ')}` : ''}); naive keeps ${((nr.keptFloats * 4) / 2 ** 20).toFixed(0)} MB of features`);
        }
        if (gemmHeavy) {
          const [to] = await timed(() => naiveAnalyze(a, b, data, { batchSize: s.batchSize, feed: s.naiveFeed, gemm: 'onnxruntime' }));
          best.naiveOrtGemm = Math.min(best.naiveOrtGemm, to);
        }
      }
      if (s.torch) {
        const t = runTorch(model, s, rep === 0);
        if (t.ms === undefined) torchSkip = t.skipped;
        else if (t.ms < best.torch) {
          best.torch = t.ms;
          cpu.torch = t.cpuMs ?? NaN;
        }
        if (rep === 0 && t.results) {
          const c = compareTorch(r, t.results);
          notes.push(`${model}: torch = llfc on ${c.count} numbers within 1e-4: ${c.maxDiff <= 1e-4 ? 'yes' : 'NO'} (max |Δ| ${c.maxDiff.toExponential(2)} at ${c.worst}); torch threads ${t.threads}`);
        }
      }
    }
    lines.push(row([model, data.length, fmt(best.llfc), fmt(best.naive), fmt(best.torch), ratio(best.naive, best.llfc), ratio(best.torch, best.llfc)], widths));
    if (gemmHeavy && Number.isFinite(best.naiveOrtGemm)) notes.push(`${model}: naive with the Gemm products of commutativity by onnxruntime instead of JS: ${fmt(best.naiveOrtGemm)} ms, naive/llfc ${ratio(best.naiveOrtGemm, best.llfc)}`);
    notes.push(`${model}: CPU time of those runs (ms, every thread): llfc ${fmt(cpu.llfc)}, naive ${fmt(cpu.naive)}, torch ${fmt(cpu.torch)}`);
    if (naivePhases) notes.push(`${model}: naive phases (ms): ${Object.entries(naivePhases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    if (torchSkip) notes.push(`${model}: torch skipped: ${torchSkip}`);
  }
  console.log(row(['model', 'samples', 'llfc ms', 'naive ms', 'torch ms', 'naive/llfc', 'torch/llfc'], widths));
  for (const l of lines) console.log(l);
  for (const n of notes) console.log(`  ${n}`);
  console.log(`targets: naive/llfc ≥ 3×, torch/llfc > 1×. load average after: ${load()}`);
}

interface MemoryResult {
  model: string;
  samples: number;
  method: string;
  maxRssMb: number;
  /** /proc/self/status VmHWM, the same peak as the kernel keeps it for this process image. */
  hwmMb: number;
  rssBeforeMb: number;
  ms: number;
}

/** In the child: one analyze pass, then the peak resident set size. */
async function memoryChild(spec: string): Promise<void> {
  const [model, size, method] = spec.split(':') as [string, string, string];
  const [a, b] = await pair(model);
  const data = size === '10k' ? await fashion10k() : await fashion2k();
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  const [ms] = await timed<unknown>(() => (method === 'naive' ? naiveAnalyze(a, b, data) : analyzePair(a, b, data)));
  const hwm = /VmHWM:\s+(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
  const result: MemoryResult = { model, samples: data.length, method, maxRssMb: process.resourceUsage().maxRSS / 1024, hwmMb: hwm ? Number(hwm[1]) / 1024 : NaN, rssBeforeMb, ms };
  console.log(JSON.stringify(result));
}

function memory(s: Settings): void {
  const have10k = existsSync(join(FASHION, 't10k-images-idx3-ubyte.gz')) && existsSync(join(FASHION, 't10k-labels-idx1-ubyte.gz'));
  if (!have10k) console.log(`10k samples: skipped (${FASHION}/t10k-*-ubyte.gz not found)`);
  const runs: [string, string, string][] = [];
  for (const model of s.models) {
    for (const size of have10k ? ['2k', '10k'] : ['2k']) runs.push([model, size, 'llfc']);
    if (s.memoryNaive) for (const size of have10k && model === 'mlp' ? ['2k', '10k'] : ['2k']) runs.push([model, size, 'naive']);
  }
  console.log('peak memory of one analyze pass in a child process (process.resourceUsage().maxRSS)');
  const widths = [8, 8, 8, 12, 10, 15, 10];
  console.log(row(['model', 'samples', 'method', 'peak RSS MB', 'VmHWM MB', 'RSS before MB', 'ms'], widths));
  const peaks = new Map<string, number[]>();
  for (const [model, size, method] of runs) {
    // Linux carries a process's peak RSS across fork and exec (ru_maxrss), so a direct child of
    // this (large) process would report at least this process's RSS: start it from a shell.
    const argv = [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), `--memory-child=${model}:${size}:${method}`];
    const r = spawnSync('/bin/sh', ['-c', '"$@" & wait $!', 'sh', ...argv], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let m: MemoryResult;
    try {
      m = JSON.parse(line) as MemoryResult;
    } catch {
      console.log(row([model, size, method, `failed (${r.status ?? r.signal})`, '', '', ''], widths), r.stderr.trim().split('\n').slice(-3).join(' | '));
      continue;
    }
    console.log(row([m.model, m.samples, m.method, m.maxRssMb.toFixed(0), m.hwmMb.toFixed(0), m.rssBeforeMb.toFixed(0), m.ms.toFixed(0)], widths));
    const key = `${model} ${method}`;
    peaks.set(key, [...(peaks.get(key) ?? []), m.maxRssMb]);
  }
  for (const [key, [small, large]] of peaks) {
    if (small !== undefined && large !== undefined) console.log(`  ${key}: 10k / 2k peak RSS = ${(large / small).toFixed(2)}`);
  }
}

export async function main(args: string[]): Promise<void> {
  const child = args.find((a) => a.startsWith('--memory-child='));
  if (child) return memoryChild(child.slice('--memory-child='.length));
  const s = parse(args);
  if (s.threads) pinOrtThreads(s.threads);
  if (s.timing) await timing(s);
  if (s.memory) memory(s);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
