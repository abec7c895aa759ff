/** `llfc analyze A.onnx B.onnx --data X [--labels Y]`: LMC plus LLFC and its two conditions per layer. */
import { Command } from 'commander';
import { loadCheckpoint } from '../checkpoint.js';
import { analyzePair, DEFAULT_LAYER_ALPHAS } from '../checks/analyze.js';
import { buildReport, checkOutputPath, writeReport, type Report } from '../report/json.js';
import type { PairAnalysis } from '../report/types.js';
import { addDataOptions, openDataFromFlags, parseNumberList, parsePositiveInteger, type DataFlags } from './data-options.js';
import { alphasFromFlags, lmcTable } from './lmc.js';
import { fixed, formatTable, interruptSignal, progressBar, type OutputOptions } from './terminal.js';

export interface AnalyzeFlags extends DataFlags, OutputOptions {
  alphas?: string;
  steps?: string;
  layers?: string;
  commutativity: boolean;
  weakAdditivity: boolean;
  out?: string;
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

export function analyzeCommand(): Command {
  const command = new Command('analyze')
    .description('LMC plus, per layer, LLFC distance, scale coefficient, weak additivity and commutativity, in one pass over the data')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--alphas <list>', `α values of the per-layer checks (default ${DEFAULT_LAYER_ALPHAS.join(',')})`)
    .option('--steps <n>', 'points of the LMC α grid (default 11)')
    .option('--layers <list>', 'layers to check: node names, tensor names, module paths or op types, comma separated')
    .option('--no-commutativity', 'skip the commutativity check')
    .option('--no-weak-additivity', 'skip the weak-additivity check')
    .option('--out <file>', 'write the JSON report here')
    .option('--json', 'print the report as JSON on stdout')
    .option('--quiet', 'print nothing but errors');
  addDataOptions(command);
  return command.action(async (a: string, b: string, flags: AnalyzeFlags) => {
    const layerAlphas = flags.alphas !== undefined ? parseNumberList(flags.alphas, '--alphas') : DEFAULT_LAYER_ALPHAS;
    const lmcAlphas = alphasFromFlags({ ...(flags.steps !== undefined ? { steps: flags.steps } : {}) });
    const batchSize = parsePositiveInteger(flags.batchSize, '--batch-size');
    if (flags.out) checkOutputPath(flags.out, [a, b, ...flags.data, ...(flags.labels ? [flags.labels] : [])]);
    const [ca, cb, data] = await Promise.all([loadCheckpoint(a), loadCheckpoint(b), openDataFromFlags(flags)]);
    const bar = progressBar(flags);
    const interrupt = interruptSignal();
    let analysis: PairAnalysis;
    try {
      analysis = await analyzePair(ca, cb, data, {
        alphas: layerAlphas,
        lmcAlphas,
        batchSize,
        commutativity: flags.commutativity,
        weakAdditivity: flags.weakAdditivity,
        ...(flags.layers !== undefined ? { layers: flags.layers.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        signal: interrupt.signal,
        onProgress: bar.listener,
      });
    } finally {
      bar.stop();
      interrupt.dispose();
    }
    const report: Report = buildReport({
      models: { a, b },
      data: { source: data.source, samples: data.length, labels: data.labels !== undefined },
      settings: { batchSize, feed: 'initializers', layers: flags.layers ?? 'default' },
      lmc: analysis.lmc,
      layerAlphas: analysis.alphas,
      layers: analysis.layers,
      commutativity: analysis.commutativity,
    });
    if (flags.out) await writeReport(report, flags.out);
    if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (!flags.quiet) {
      process.stdout.write(`Analysis of ${a} (α=0) and ${b} (α=1) on ${data.length} samples of ${data.source}\n\n${analysisText(analysis)}\n`);
      if (flags.out) process.stdout.write(`report written to ${flags.out}\n`);
    }
  });
}
