/**
 * The analyze pass as a user runs it, whole process against whole process: `llfc analyze A B
 * --data … --labels … --out report` against a PyTorch eager + forward hooks script computing the
 * same statistics (Debian's python3-torch, OMP_WAIT_POLICY=PASSIVE): bench/torch_analyze.py on
 * the MLP and ResNet fixtures (Fashion-MNIST, normalized the same way; issue 16: ≥ 2× on the
 * MLP, ≥ 3× on the ResNet), bench/torch_lm_analyze.py on the byte-level GPT fixtures (token
 * data; issue 13: ≥ 2×). Each process reads the two ONNX files and the data itself and
 * computes the 11-point LMC curve and, per layer and α ∈ {0.25, 0.5, 0.75}, LLFC, baseline, weak
 * additivity and commutativity of every linear layer. The numbers are checked to agree within
 * 1e-4 (the timing counts only then). Interleaved runs, best of --repeat; wall and CPU time
 * (user + system, every thread) of each process.
 *
 *   npm run bench -- process [--models=mlp,resnet,lm_untied,lm_tied] [--samples=2000]
 *                            [--copies=1,8] [--repeat=3] [--batch-size=256]
 *
 * --samples: Fashion-MNIST test images of the MLP and ResNet runs. --copies tiles the GPT
 * fixture's 128 held-out sequences (4,096 tokens) k times, so fixed costs (start-up, reading,
 * session creation) and the per-token pass are seen apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNpy } from '../test/dataset/helpers.js';
import { fixture, readNpy } from '../test/helpers.js';
import { compareTorch, NORMALIZE, type TorchResults } from './analyze.js';
import { isMain, row } from './timing.js';
import type { PairAnalysis } from '../lib/results.js';
import { loadPair } from '../lib/load-checkpoints.js';
import { openDataset, type OpenDatasetOptions } from '../lib/dataset/index.js';
import { analyzePair } from '../lib/checks/analyze.js';

const PYTHON = process.env.LLFC_PYTHON ?? '/usr/bin/python3';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TORCH_IMAGES = join(root, 'bench', 'torch_analyze.py');
const TORCH_TOKENS = join(root, 'bench', 'torch_lm_analyze.py');
const LLFC = join(root, 'bin', 'llfc.js');

function flag(args: string[], name: string, fallback: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/**
 * Wall time of a whole process, its CPU time (user + system, from /usr/bin/time where there is
 * one: on a loaded machine the CPU times compare better than the wall times), and its stdout; a
 * failure is an error with its stderr's tail.
 */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv, cpuFile: string): { ms: number; cpuMs: number; stdout: string } {
  const time = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', '%U %S', '-o', cpuFile] : [];
  const argv = [...time, command, ...args];
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  if (r.error || r.status !== 0) throw new Error(`${command} ${args.slice(0, 2).join(' ')} failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const cpu = time.length > 0 ? readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number) : [NaN, NaN];
  return { ms, cpuMs: (cpu[0]! + cpu[1]!) * 1000, stdout: r.stdout };
}

/** The fixture's held-out ids and labels tiled `copies` times, as .npy files in `dir`. */
function tiledData(dir: string, copies: number): { data: string; labels: string; sequences: number; tokens: number } {
  const ids = fixture('data', 'lm_heldout_ids.npy');
  const labels = fixture('data', 'lm_heldout_labels.npy');
  const [n, t] = readNpy(ids).shape as [number, number];
  if (copies === 1) return { data: ids, labels, sequences: n, tokens: n * t };
  const tile = (file: string, name: string): string => {
    const { data } = readNpy(file) as { data: BigInt64Array };
    const out = new BigInt64Array(data.length * copies);
    for (let k = 0; k < copies; k++) out.set(data, k * data.length);
    return writeNpy(join(dir, name), '<i8', [n * copies, t], out);
  };
  return { data: tile(ids, `ids${copies}.npy`), labels: tile(labels, `labels${copies}.npy`), sequences: n * copies, tokens: n * copies * t };
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '—');

/** One timed comparison: the two command lines and what they run on. */
interface Run {
  readonly model: string;
  /** Samples (images or sequences) and, for token data, tokens. */
  readonly size: string;
  readonly llfc: string[];
  readonly torch: string[];
  readonly target: number;
  /** llfc's analysis in this process, timed as the torch script times its own (see passTime). */
  readonly pass: { readonly a: string; readonly b: string; readonly data: OpenDatasetOptions; readonly loadTimed: boolean };
}

const IMAGE_MODELS = new Set(['mlp', 'resnet']);
const TARGETS: Record<string, number> = { mlp: 2, resnet: 3, lm_untied: 2, lm_tied: 2 };

/** The runs of the chosen models: images at --samples, token models at each --copies. */
function runs(models: readonly string[], samples: number, copiesList: readonly number[], batchSize: string, dir: string, out: string): Run[] {
  const list: Run[] = [];
  const common = ['--batch-size', batchSize, '--out', out, '--quiet'];
  for (const model of models.filter((m) => IMAGE_MODELS.has(m))) {
    const [a, b] = [fixture('models', `${model}_a.onnx`), fixture('models', `${model}_b.onnx`)];
    const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--mean', NORMALIZE.mean.join(','), '--std', NORMALIZE.std.join(','), '--limit', String(samples)];
    list.push({
      model,
      size: String(samples),
      llfc: ['analyze', a, b, ...data, ...common],
      torch: [TORCH_IMAGES, '--model', model, '--samples', String(samples), '--batch-size', batchSize, '--no-warm-up', '--results'],
      target: TARGETS[model]!,
      pass: { a, b, data: { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: NORMALIZE, limit: samples }, loadTimed: false },
    });
  }
  for (const copies of copiesList) {
    const tokenModels = models.filter((m) => !IMAGE_MODELS.has(m));
    if (tokenModels.length === 0) break;
    const data = tiledData(dir, copies);
    for (const model of tokenModels) {
      const [a, b] = [fixture('models', `${model}_a.onnx`), fixture('models', `${model}_b.onnx`)];
      list.push({
        model,
        size: `${data.sequences} (${data.tokens} tokens)`,
        llfc: ['analyze', a, b, '--data', data.data, '--labels', data.labels, ...common],
        torch: [TORCH_TOKENS, '--model', model, '--data', data.data, '--labels', data.labels, '--batch-size', batchSize],
        target: TARGETS[model] ?? 2,
        pass: { a, b, data: { data: data.data, labels: data.labels }, loadTimed: true },
      });
    }
  }
  return list;
}

/**
 * llfc's analysis in this process (no start-up, no worker), timed as each torch script times its
 * own: torch_analyze.py from the data on (the ONNX files already read), torch_lm_analyze.py
 * from reading both models on; neither counts imports or interpreter start-up.
 */
async function passTime(pass: Run['pass'], batchSize: number): Promise<{ ms: number; cpuMs: number }> {
  const loaded = pass.loadTimed ? undefined : await loadPair(pass.a, pass.b);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const [a, b] = loaded ?? (await loadPair(pass.a, pass.b));
  await analyzePair(a, b, await openDataset(pass.data), { batchSize });
  const cpu = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function main(args: string[]): Promise<void> {
  const models = flag(args, 'models', 'mlp,resnet,lm_untied,lm_tied').split(',');
  const unknown = models.find((m) => !(m in TARGETS));
  if (unknown) throw new Error(`unknown model '${unknown}'; known: ${Object.keys(TARGETS).join(', ')}`);
  const samples = Number(flag(args, 'samples', '2000'));
  const copiesList = flag(args, 'copies', '1,8').split(',').map(Number);
  const repeat = Number(flag(args, 'repeat', '3'));
  const batchSize = flag(args, 'batch-size', '256');
  if (!existsSync(PYTHON)) {
    console.log(`analyze, whole process: skipped (${PYTHON} not found)`);
    return;
  }
  console.log('analyze pass, whole process against whole process (llfc CLI vs PyTorch eager + hooks, OMP_WAIT_POLICY=PASSIVE)');
  console.log(`11-point LMC + LLFC/baseline/weak additivity/commutativity at α ∈ {0.25, 0.5, 0.75}; batch ${batchSize}; best of ${repeat}, interleaved; ${cpus().length} cores; load ${loadavg()[0]!.toFixed(2)}`);
  console.log('whole process: wall and CPU (user + system) of each process; pass: the analysis in-process, without start-up and imports (llfc analyzePair, the torch script\'s own timing)');
  const widths = [10, 22, 8, 8, 11, 10, 10, 10, 7, 8, 8, 8];
  console.log(row(['model', 'samples', 'llfc s', 'torch s', 'torch/llfc', 'llfc CPU', 'torch CPU', 'CPU ratio', 'target', 'pass s', 'torch', 'ratio'], widths));
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'llfc-bench-process-'));
  const torchEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  const out = join(dir, 'report.json');
  const cpuFile = join(dir, 'cpu.txt');
  try {
    for (const run of runs(models, samples, copiesList, batchSize, dir, out)) {
      const best = { llfc: Infinity, torch: Infinity, llfcCpu: Infinity, torchCpu: Infinity, llfcPass: Infinity, torchPass: Infinity };
      let agree: string | undefined;
      for (let k = 0; k < repeat; k++) {
        const llfc = timed(process.execPath, [LLFC, ...run.llfc], process.env, cpuFile);
        const torch = timed(PYTHON, run.torch, torchEnv, cpuFile);
        best.llfc = Math.min(best.llfc, llfc.ms);
        best.torch = Math.min(best.torch, torch.ms);
        best.llfcCpu = Math.min(best.llfcCpu, llfc.cpuMs);
        best.torchCpu = Math.min(best.torchCpu, torch.cpuMs);
        best.llfcPass = Math.min(best.llfcPass, (await passTime(run.pass, Number(batchSize))).ms);
        best.torchPass = Math.min(best.torchPass, (JSON.parse(torch.stdout.trim().split('\n').at(-1)!) as { ms: number }).ms);
        if (k === 0) {
          const theirs = JSON.parse(torch.stdout.trim().split('\n').at(-1)!) as { results: TorchResults };
          const ours = JSON.parse(readFileSync(out, 'utf8')) as PairAnalysis;
          const c = compareTorch(ours, theirs.results);
          agree = c.maxDiff <= 1e-4 ? 'yes' : 'NO';
          notes.push(`${run.model} ${run.size}: torch = llfc on ${c.count} numbers within 1e-4: ${agree} (max |Δ| ${c.maxDiff.toExponential(2)} at ${c.worst})`);
        }
      }
      const ratio = (x: number, y: number): string => (agree === 'yes' ? `${(x / y).toFixed(2)}×` : 'disagree');
      console.log(row([run.model, run.size, seconds(best.llfc), seconds(best.torch), ratio(best.torch, best.llfc), seconds(best.llfcCpu), seconds(best.torchCpu), ratio(best.torchCpu, best.llfcCpu), `≥ ${run.target}×`, seconds(best.llfcPass), seconds(best.torchPass), ratio(best.torchPass, best.llfcPass)], widths));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const n of notes) console.log(`  ${n}`);
  console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
