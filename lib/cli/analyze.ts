/** `llfc analyze A.onnx B.onnx --data X [--labels Y]`: LMC plus LLFC and its two conditions per layer. */
import { Command } from 'commander';
import { analyze } from '../api.js';
import { DEFAULT_LAYER_ALPHAS } from '../checks/analyze.js';
import type { PairAnalysis } from '../report/types.js';
import { addDataOptions, dataInputs, datasetOptionsFromFlags, parseNumberList, parsePositiveInteger, type DataFlags } from './data-options.js';
import { alphasFromFlags, lmcTable } from './lmc.js';
import { addReportOptions, checkOutputs, finishReport, withProgress, type ReportFlags } from './report-output.js';
import { fixed, formatTable } from './terminal.js';

export interface AnalyzeFlags extends DataFlags, ReportFlags {
  alphas?: string;
  steps?: string;
  layers?: string;
  commutativity: boolean;
  weakAdditivity: boolean;
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
  const layerAlphas = flags.alphas !== undefined ? parseNumberList(flags.alphas, '--alphas') : DEFAULT_LAYER_ALPHAS;
  const lmcAlphas = alphasFromFlags({ ...(flags.steps !== undefined ? { steps: flags.steps } : {}) });
  const batchSize = parsePositiveInteger(flags.batchSize, '--batch-size');
  const inputs = [a, b, ...dataInputs(flags)];
  checkOutputs(flags, inputs);
  const data = datasetOptionsFromFlags(flags);
  const analysis = await withProgress(flags, (control) =>
    analyze(
      { a, b, data },
      {
        alphas: layerAlphas,
        lmcAlphas,
        batchSize,
        commutativity: flags.commutativity,
        weakAdditivity: flags.weakAdditivity,
        ...(flags.layers !== undefined ? { layers: flags.layers.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        ...control,
      },
    ),
  );
  const source = flags.data.join(', ');
  await finishReport(
    {
      models: { a, b },
      data: { source, samples: analysis.samples, labels: flags.labels !== undefined },
      settings: { batchSize, feed: 'initializers', layers: flags.layers ?? 'default' },
      lmc: analysis.lmc,
      layerAlphas: analysis.alphas,
      layers: analysis.layers,
      commutativity: analysis.commutativity,
    },
    flags,
    inputs,
    () => `Analysis of ${a} (α=0) and ${b} (α=1) on ${analysis.samples} samples of ${source}\n\n${analysisText(analysis)}`,
  );
}

export function analyzeCommand(): Command {
  const command = new Command('analyze')
    .description('LMC plus, per layer, LLFC distance, scale coefficient, weak additivity and commutativity, in one pass over the data')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--alphas <list>', `α values of the per-layer checks (default ${DEFAULT_LAYER_ALPHAS.join(',')})`)
    .option('--steps <n>', 'points of the LMC α grid (default 11)')
    .option('--layers <list>', 'layers to check: node names, tensor names, module paths or op types, comma separated')
    .option('--no-commutativity', 'skip the commutativity check')
    .option('--no-weak-additivity', 'skip the weak-additivity check');
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (a: string, b: string, flags: AnalyzeFlags) => runAnalyze(a, b, flags));
}
