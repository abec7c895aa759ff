/** `llfc analyze A.onnx B.onnx --data X [--labels Y]`: LMC plus LLFC and its two conditions per layer. */
import { Command, Option } from 'commander';
import type { AlignMethod, CorrelationForm } from '../align/index.js';
import { analyze, analyzeAligned } from '../api.js';
import { ANALYZE_OPTIONS } from '../checks/analyze.js';
import { warnings } from '../folded-batchnorm.js';
import { optionDefault, OPTIONS, resolveOptions } from '../options.js';
import type { AlignedAnalysis, PairAnalysis } from '../report/types.js';
import { addDataOptions, dataInputs, datasetOptionsFromFlags, type DataFlags } from './data-options.js';
import { parseList, parseNumber, parseNumberList } from './parse.js';
import { alphasFromFlags, lmcTable } from './lmc.js';
import { addReportOptions, checkOutputs, finishReport, withProgress, type ReportFlags } from './report-output.js';
import { fixed, formatTable } from './terminal.js';

export interface AnalyzeFlags extends DataFlags, ReportFlags {
  alphas?: string;
  steps?: string;
  layers?: string;
  commutativity: boolean;
  weakAdditivity: boolean;
  align?: AlignMethod;
  correlation?: CorrelationForm;
}

export function layerTable(analysis: PairAnalysis): string {
  const header = ['layer', 'kind', ...analysis.alphas.map((a) => `LLFC α=${a}`), 'baseline', 'coef α=0.5', ...analysis.alphas.map((a) => `WA α=${a}`)];
  const half = analysis.alphas.indexOf(0.5);
  const rows = analysis.layers.map((l) => [
    l.module ?? l.name,
    l.kind,
    ...l.llfc.map((p) => fixed(p.distance)),
    fixed(l.baseline),
    half >= 0 ? fixed(l.llfc[half]!.coefficient, 3) : '',
    ...(l.weakAdditivity ? l.weakAdditivity.map((p) => fixed(p.distance)) : analysis.alphas.map(() => '')),
  ]);
  return formatTable(header, rows);
}

export function commutativityTable(analysis: PairAnalysis): string {
  return formatTable(
    ['linear layer', 'op', 'dist_com', 'dist_W', 'dist_H'],
    analysis.commutativity.map((c) => [c.module ?? c.node, c.op, fixed(c.distCom), fixed(c.distW), fixed(c.distH)]),
  );
}

export function analysisText(analysis: PairAnalysis): string {
  const parts: string[] = [];
  if (analysis.lmc) parts.push(`Linear mode connectivity\n${lmcTable(analysis.lmc)}`);
  else parts.push('Linear mode connectivity: no labels given, skipped');
  parts.push(`LLFC distance per layer (baseline: A vs B; WA: weak additivity) on ${analysis.samples} samples\n${layerTable(analysis)}`);
  if (analysis.commutativity.length > 0) parts.push(`Commutativity per linear layer\n${commutativityTable(analysis)}`);
  return parts.join('\n\n');
}

/** Runs the analysis of two files and prints/writes the report; shared by `analyze` and `demo`. */
export async function runAnalyze(a: string, b: string, flags: AnalyzeFlags): Promise<void> {
  const options = resolveOptions('llfc analyze', ANALYZE_OPTIONS, {
    alphas: flags.alphas !== undefined ? parseNumberList(flags.alphas, '--alphas') : undefined,
    lmcAlphas: alphasFromFlags({ ...(flags.steps !== undefined ? { steps: flags.steps } : {}) }),
    layers: flags.layers !== undefined ? parseList(flags.layers, '--layers') : undefined,
    batchSize: parseNumber(flags.batchSize, '--batch-size'),
    commutativity: flags.commutativity,
    weakAdditivity: flags.weakAdditivity,
  });
  const inputs = [a, b, ...dataInputs(flags)];
  const outputs = await checkOutputs(flags, inputs);
  const data = datasetOptionsFromFlags(flags);
  const { naive: analysis, aligned, foldedBatchNorm } = await withProgress(flags, (control) =>
    flags.align
      ? analyzeAligned({ a, b, data }, { method: flags.align, ...(flags.correlation ? { correlation: flags.correlation } : {}) }, { ...options, ...control })
      : analyze({ a, b, data }, { ...options, ...control }).then(({ foldedBatchNorm, ...naive }) => ({ naive, aligned: undefined, foldedBatchNorm })),
  );
  const source = flags.data.join(', ');
  await finishReport(
    {
      models: { a, b },
      data: { source, samples: analysis.samples, labels: flags.labels !== undefined },
      settings: { batchSize: options.batchSize, feed: 'initializers', layers: flags.layers ?? 'default', ...(flags.align ? { align: flags.align } : {}) },
      lmc: analysis.lmc,
      layerAlphas: analysis.alphas,
      layers: analysis.layers,
      commutativity: analysis.commutativity,
      ...(aligned ? { aligned } : {}),
      ...(foldedBatchNorm ? { foldedBatchNorm } : {}),
    },
    flags,
    outputs,
    () => {
      const head = [`Analysis of ${a} (α=0) and ${b} (α=1) on ${analysis.samples} samples of ${source}`, ...warnings(a, { foldedBatchNorm })].join('\n');
      if (!aligned) return `${head}\n\n${analysisText(analysis)}`;
      const groups = aligned.spec.groups.length;
      return [
        head,
        `== naive (B as trained) ==\n\n${analysisText(analysis)}`,
        `== aligned (B permuted by ${aligned.method} matching; ${groups} permutation groups) ==\n\n${analysisText(aligned)}`,
        barrierComparison(analysis, aligned),
      ].join('\n\n');
    },
  );
}

/** One line comparing the naive and the aligned loss barrier. */
function barrierComparison(naive: PairAnalysis, aligned: AlignedAnalysis): string {
  if (!naive.lmc?.barriers || !aligned.lmc?.barriers) return '';
  return `loss barrier: naive ${fixed(naive.lmc.barriers.loss)} → aligned ${fixed(aligned.lmc.barriers.loss)}`;
}

export function analyzeCommand(): Command {
  const command = new Command('analyze')
    .description('LMC plus, per layer, LLFC distance, scale coefficient, weak additivity and commutativity, in one pass over the data')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--alphas <list>', `α values of the per-layer checks (default ${optionDefault('layerAlphas').join(',')})`)
    .option('--steps <n>', `points of the LMC α grid (default ${optionDefault('steps')})`)
    .option('--layers <list>', 'layers to check: node names, tensor names, module paths or op types, comma separated')
    .option('--no-commutativity', 'skip the commutativity check')
    .option('--no-weak-additivity', 'skip the weak-additivity check')
    .addOption(new Option('--align <method>', 'also align B to A by permutation and analyze the aligned pair').choices(OPTIONS.method.values))
    .addOption(new Option('--correlation <form>', 'activation matching: cross-correlation or Pearson').choices(OPTIONS.correlation.values));
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (a: string, b: string, flags: AnalyzeFlags) => runAnalyze(a, b, flags));
}
