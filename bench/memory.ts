/**
 * Large models in bounded memory (issue 16): peak RSS and wall time of one `llfc analyze`,
 * `llfc interpolate` and `llfc align --method weight` on random-init checkpoints with external
 * data, each the built CLI (`bin/llfc.js`, as users run it; `npm run build` first) in a fresh
 * process, workers included, against the model's float32 size (every stored parameter once).
 * Target: peak RSS under 4× that size, and flat in N (analyze at two N).
 *
 * Models (bench/make_large_models.py writes them to test/fixtures/generated/; skipped when absent):
 *   gpt124m    GPT-2 small's dimensions and 124M parameters (untied head), token data N × 32, batch 4
 *   resnet50x  torchvision ResNet-50, 1000 classes, data N × 3 × 64 × 64, batch 8
 *   huge       (--huge only, not in `npm run bench`) a 2.4 GB MLP, over protobuf's 2 GB limit
 *
 * Op `load` is a process that only loads the pair through the built library (dist/), no worker:
 * the node and onnxruntime runtime plus A's and B's arenas, the floor of interpolate and align
 * (analyze holds a large pair's arenas file-backed, lib/file-backed.ts, and stands below it). The
 * peak comes from the process itself (bench/peak-rss.mjs, preloaded).
 *
 * Options: --models=gpt124m,resnet50x  --ops=load,analyze,interpolate,align  --huge
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readModel } from '../lib/onnx/model.js';
import { DataType } from '../lib/onnx/proto.js';
import { elementCount, tensorShape } from '../lib/onnx/tensor.js';
import { fixture } from '../test/helpers.js';
import { writeNpy } from '../test/dataset/helpers.js';
import { isMain, row } from './timing.js';

interface LargeModel {
  /** Data of n samples written as .npy files into `dir`: the paths. */
  data(dir: string, n: number): { data: string; labels: string };
  /**
   * The two N of the analyze runs, and its batch size: both several batches, since the peak
   * settles only after the first batches have run (one batch against three looked like growth).
   */
  readonly samples: readonly [number, number];
  readonly batchSize: number;
}

/** Deterministic pseudo-random numbers (the bench needs no particular distribution, only the same data per run). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TOKENS = 32;

function tokenData(vocab: number) {
  return (dir: string, n: number) => {
    const r = lcg(n);
    const ids = BigInt64Array.from({ length: n * TOKENS }, () => BigInt(Math.floor(r() * vocab)));
    const labels = BigInt64Array.from({ length: n * TOKENS }, () => BigInt(Math.floor(r() * vocab)));
    return { data: writeNpy(join(dir, `ids${n}.npy`), '<i8', [n, TOKENS], ids), labels: writeNpy(join(dir, `labels${n}.npy`), '<i8', [n, TOKENS], labels) };
  };
}

function floatData(sample: number[], classes: number) {
  return (dir: string, n: number) => {
    const r = lcg(n);
    const size = elementCount(sample);
    const x = Float32Array.from({ length: n * size }, () => r() - 0.5);
    const y = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * classes)));
    return { data: writeNpy(join(dir, `x${n}.npy`), '<f4', [n, ...sample], x), labels: writeNpy(join(dir, `y${n}.npy`), '<i8', [n], y) };
  };
}

const MODELS: Record<string, LargeModel> = {
  gpt124m: { data: tokenData(25088), samples: [12, 36], batchSize: 4 },
  resnet50x: { data: floatData([3, 64, 64], 1000), samples: [40, 72], batchSize: 8 },
  huge: { data: floatData([4096], 10), samples: [8, 32], batchSize: 8 },
};

const files = (model: string) => [fixture('generated', `${model}_a.onnx`), fixture('generated', `${model}_b.onnx`)] as const;

/** The model's float32 size: every stored FLOAT initializer once (read from the model file alone). */
async function float32Bytes(file: string): Promise<number> {
  const { proto } = await readModel(file, () => true);
  return proto.graph!.initializer.filter((t) => t.dataType === DataType.FLOAT).reduce((n, t) => n + 4 * elementCount(tensorShape(t)), 0);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LLFC = join(root, 'bin', 'llfc.js');
const PEAK_RSS = join(root, 'bench', 'peak-rss.mjs');

/** The command line of one op in a fresh process: the built CLI, or (load) the built library's loadPair. */
function command(model: string, op: string, n: number, dir: string): string[] {
  const [a, b] = files(model);
  if (op === 'load') {
    const library = pathToFileURL(join(root, 'dist', 'load-checkpoints.js')).href;
    return ['--input-type=module', '-e', `const { loadPair } = await import(${JSON.stringify(library)}); await loadPair(${JSON.stringify(a)}, ${JSON.stringify(b)});`];
  }
  if (op === 'analyze') {
    const { data, labels } = MODELS[model]!.data(dir, n);
    return [LLFC, 'analyze', a, b, '--data', data, '--labels', labels, '--batch-size', String(MODELS[model]!.batchSize), '--out', join(dir, 'report.json'), '--quiet'];
  }
  if (op === 'interpolate') return [LLFC, 'interpolate', a, b, '--alpha', '0.5', '-o', join(dir, 'mid.onnx'), '--quiet'];
  return [LLFC, 'align', a, b, '--method', 'weight', '-o', join(dir, 'aligned.onnx'), '--quiet'];
}

/** Wall time and peak RSS (MiB) of one op in a fresh process; a failure is an error with its stderr's tail. */
function measure(model: string, op: string, n: number, dir: string): { ms: number; maxRssMb: number } {
  const peakFile = join(dir, 'peak-rss');
  const argv = [process.execPath, '--import', pathToFileURL(PEAK_RSS).href, ...command(model, op, n, dir)];
  const t0 = performance.now();
  // Linux carries a process's peak RSS across fork and exec (ru_maxrss): start the child from a shell, not from this process.
  const r = spawnSync('/bin/sh', ['-c', '"$@" & wait $!', 'sh', ...argv], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, LLFC_PEAK_RSS_FILE: peakFile } });
  const ms = performance.now() - t0;
  if (r.status !== 0 || !existsSync(peakFile)) throw new Error(`failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { ms, maxRssMb: Number(readFileSync(peakFile, 'utf8')) / 1024 };
}

export async function main(args: string[]): Promise<void> {
  const value = (key: string) => args.find((x) => x.startsWith(`--${key}=`))?.slice(key.length + 3);
  const models = (value('models') ?? 'gpt124m,resnet50x').split(',').concat(args.includes('--huge') ? ['huge'] : []);
  const ops = (value('ops') ?? 'load,analyze,interpolate,align').split(',');
  if (!existsSync(join(root, 'dist', 'llfc-cli.js'))) throw new Error('bench memory measures the built CLI: run `npm run build` first');
  console.log('peak RSS of one command in a fresh process (the built CLI, as users run it), against the model’s float32 size');
  const widths = [10, 12, 5, 9, 12, 10, 8];
  console.log(row(['model', 'op', 'N', 'time s', 'peak RSS MB', 'model MB', 'RSS/size'], widths));
  for (const model of models) {
    const [a] = files(model);
    if (!existsSync(a)) {
      console.log(`${model}: skipped (run \`/usr/bin/python3 bench/make_large_models.py ${model === 'resnet50x' ? 'resnet50' : model}\`)`);
      continue;
    }
    const size = (await float32Bytes(a)) / 2 ** 20;
    const peaks: number[] = [];
    for (const op of ops) {
      for (const n of op === 'analyze' ? MODELS[model]!.samples : [0]) {
        const dir = mkdtempSync(join(tmpdir(), 'llfc-memory-'));
        try {
          const c = measure(model, op, n, dir);
          if (op === 'analyze') peaks.push(c.maxRssMb);
          console.log(row([model, op, n || '—', (c.ms / 1000).toFixed(1), c.maxRssMb.toFixed(0), size.toFixed(0), (c.maxRssMb / size).toFixed(2)], widths));
        } catch (e) {
          console.log(row([model, op, n || '—', (e as Error).message, '', '', ''], widths));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    if (peaks.length === 2) console.log(`  ${model}: analyze peak RSS at N=${MODELS[model]!.samples[1]} / N=${MODELS[model]!.samples[0]} = ${(peaks[1]! / peaks[0]!).toFixed(2)}`);
  }
  console.log('targets: RSS/size < 4, and the analyze ratio between the two N near 1');
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
