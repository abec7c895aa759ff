/**
 * The command lines the fuzz cases run: each llfc command with small settings, its outputs
 * inside the case's directory, and what a success must have written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers.js';
import type { FuzzCase } from './harness.js';

export type ModelCommand = 'interpolate' | 'spec' | 'permute' | 'align' | 'lmc' | 'analyze' | 'layerwise' | 'merge' | 'series';
export type DataCommand = 'lmc' | 'analyze' | 'align' | 'layerwise' | 'merge' | 'series';
export const MODEL_COMMANDS: readonly ModelCommand[] = ['interpolate', 'spec', 'lmc', 'permute', 'analyze', 'align', 'layerwise', 'merge', 'series'];
export const DATA_COMMANDS: readonly DataCommand[] = ['lmc', 'analyze', 'align', 'layerwise', 'merge', 'series'];

export type CommandLine = Pick<FuzzCase, 'argv' | 'outputs' | 'writes' | 'checkSuccess'>;

/** Fashion-MNIST inputs for the fixture models (N×1×28×28). */
export const fashionData = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--limit', '8'];

/** A success of lmc or analyze must report finite losses: NaN is written as null in JSON. */
function finiteLosses(file: string): () => string | null {
  return () => {
    const report = JSON.parse(readFileSync(file, 'utf8')) as { lmc?: { loss: unknown[]; accuracy: unknown[] } };
    if (!report.lmc) return null;
    const bad = [...report.lmc.loss, ...report.lmc.accuracy].findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    return bad >= 0 ? `the report's LMC curve holds ${String([...report.lmc.loss, ...report.lmc.accuracy][bad])} (NaN or Inf in JSON)` : null;
  };
}

/** The report commands over a pair and data options; `out` is the JSON report. */
function reportCommand(command: 'lmc' | 'analyze', a: string, b: string, data: readonly string[], out: string): CommandLine {
  const settings = command === 'lmc' ? ['--steps', '3'] : ['--steps', '3', '--alphas', '0.5'];
  return { argv: [command, a, b, ...data, ...settings, '--out', out, '--quiet'], outputs: [out], checkSuccess: finiteLosses(out) };
}

/** A success of layerwise, merge or series must report finite numbers wherever it reports a loss or an accuracy (NaN is null in JSON). */
function finiteMetrics(file: string): () => string | null {
  const bad = (value: unknown, path: string): string | null => {
    if (Array.isArray(value)) return value.map((v, i) => bad(v, `${path}[${i}]`)).find((p) => p !== null) ?? null;
    if (value !== null && typeof value === 'object') return Object.entries(value).map(([k, v]) => (k === 'loss' || k === 'accuracy' ? finite(v, `${path}.${k}`) : bad(v, `${path}.${k}`))).find((p) => p !== null) ?? null;
    return null;
  };
  const finite = (value: unknown, path: string): string | null => {
    if (Array.isArray(value)) return value.map((v, i) => finite(v, `${path}[${i}]`)).find((p) => p !== null) ?? null;
    if (value !== null && typeof value === 'object') return bad(value, path);
    return typeof value === 'number' && Number.isFinite(value) ? null : `the report's ${path} is ${String(value)} (NaN or Inf in JSON)`;
  };
  return () => bad(JSON.parse(readFileSync(file, 'utf8')), 'report');
}

/** The commands over many models, here two, on data: `layerwise` (one random order), `merge` (a tree of two: one weight matching, then REPAIR on the first samples), `series` (three α). */
function studyCommand(command: 'layerwise' | 'merge' | 'series', a: string, b: string, data: readonly string[], dir: string): CommandLine {
  const out = join(dir, 'report.json');
  const common = [...data, '--out', out, '--quiet'];
  switch (command) {
    case 'layerwise':
      return { argv: ['layerwise', a, b, ...common, '--draws', '1'], outputs: [out], checkSuccess: finiteMetrics(out) };
    case 'series':
      return { argv: ['series', a, b, ...common, '--steps', '3'], outputs: [out], checkSuccess: finiteMetrics(out) };
    case 'merge': {
      const merged = join(dir, 'merged.onnx');
      const outputs = [merged, join(dir, 'merged.safetensors'), out];
      // A first model with external data is written with its tensors in merged.onnx.data.
      return { argv: ['merge', a, b, '-o', merged, '--method', 'tree', '--repair', '--repair-samples', '4', ...common], outputs, writes: [...outputs, `${merged}.data`], checkSuccess: finiteMetrics(out) };
    }
  }
}

function alignCommand(a: string, b: string, method: string[], out: string): CommandLine {
  const base = out.replace(/\.onnx$/, '');
  return { argv: ['align', a, b, ...method, '-o', out, '--quiet'], outputs: [out, `${base}.perms.json`, `${base}.safetensors`] };
}

/** `command` reading model `a` (and `b` where it takes two), writing into `dir`. */
export function modelCommand(command: ModelCommand, a: string, b: string, dir: string): CommandLine {
  switch (command) {
    case 'interpolate': {
      // α = 0 writes A's parameters as read: whatever bytes A's loader took end up in the output.
      const out = join(dir, 'mid.onnx');
      return { argv: ['interpolate', a, b, '--alpha', '0', '-o', out, '--quiet'], outputs: [out] };
    }
    case 'spec': {
      const out = join(dir, 'spec.json');
      return { argv: ['spec', a, '--out', out], outputs: [out] };
    }
    case 'permute': {
      const out = join(dir, 'permuted.onnx');
      return { argv: ['permute', a, '--random', '--seed', '3', '-o', out, '--quiet'], outputs: [out] };
    }
    case 'align':
      return alignCommand(a, b, ['--method', 'weight'], join(dir, 'aligned.onnx'));
    case 'lmc':
    case 'analyze':
      return reportCommand(command, a, b, fashionData, join(dir, 'report.json'));
    case 'layerwise':
    case 'merge':
    case 'series':
      return studyCommand(command, a, b, fashionData, dir);
  }
}

/** `command` running models `a` and `b` on the data options, writing into `dir`. */
export function dataCommand(command: DataCommand, a: string, b: string, data: readonly string[], dir: string): CommandLine {
  if (command === 'align') {
    const withoutLabels = data.filter((_, i) => data[i] !== '--labels' && data[i - 1] !== '--labels');
    return alignCommand(a, b, ['--method', 'activation', ...withoutLabels], join(dir, 'aligned.onnx'));
  }
  if (command === 'lmc' || command === 'analyze') return reportCommand(command, a, b, data, join(dir, 'report.json'));
  return studyCommand(command, a, b, data, dir);
}
