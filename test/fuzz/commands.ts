/**
 * The command lines the fuzz cases run: each llfc command with small settings, its outputs
 * inside the case's directory, and what a success must have written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers.js';
import type { FuzzCase } from './harness.js';

export type ModelCommand = 'interpolate' | 'spec' | 'permute' | 'align' | 'lmc' | 'analyze';
export type DataCommand = 'lmc' | 'analyze' | 'align';
export const MODEL_COMMANDS: readonly ModelCommand[] = ['interpolate', 'spec', 'lmc', 'permute', 'analyze', 'align'];
export const DATA_COMMANDS: readonly DataCommand[] = ['lmc', 'analyze', 'align'];

export type CommandLine = Pick<FuzzCase, 'argv' | 'outputs' | 'checkSuccess'>;

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
  }
}

/** `command` running models `a` and `b` on the data options, writing into `dir`. */
export function dataCommand(command: DataCommand, a: string, b: string, data: readonly string[], dir: string): CommandLine {
  if (command === 'align') {
    const withoutLabels = data.filter((_, i) => data[i] !== '--labels' && data[i - 1] !== '--labels');
    return alignCommand(a, b, ['--method', 'activation', ...withoutLabels], join(dir, 'aligned.onnx'));
  }
  return reportCommand(command, a, b, data, join(dir, 'report.json'));
}
