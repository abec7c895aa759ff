/** `llfc analyze A.onnx B.onnx --data X [--labels Y]`: LMC plus LLFC and its two conditions per layer. */
import { Command, Option } from 'commander';
import type { AlignMethod, AlignSymmetry, CorrelationForm } from '../align/index.js';
import { analyze, analyzeAligned } from '../api.js';
import { ANALYZE_OPTIONS } from '../checks/analyze.js';
import { CHECKS, type CheckSwitches } from '../checks/registry.js';
import { warnings } from '../folded-batchnorm.js';
import { optionDefault, OPTIONS, resolveOptions } from '../options.js';
import { alignmentName, type AlignedAnalysis, type PairAnalysis } from '../results.js';
import { datasetFiles } from '../dataset/index.js';
import { addCalibrationOptions, addDataOptions, addRepairOptions, calibrationFromFlags, datasetOptionsFromFlags, repairOptionsFromFlags, repairSetFromFlags, type CalibrationFlags, type DataFlags, type RepairFlags } from './data-options.js';
import { analysisReportFields, analyzeSettings, dataSourceOf } from '../report/fields.js';
import type { CheckpointNotes } from '../folded-batchnorm.js';
import { InvalidArgumentError } from '../errors.js';
import { addShardOption, runShardFromFlags, type ShardFlags } from './shard.js';
import { parseList, parseNumber, parseNumberList } from './parse.js';
import { alphasFromFlags } from './lmc.js';
import { addReportOptions, checkOutputs, finishReport, withProgress, type ReportFlags } from './report-output.js';
import { fixed, formatTable, samplesText } from '../present/text.js';

export interface AnalyzeFlags extends DataFlags, ReportFlags, CheckSwitches, Omit<CalibrationFlags, 'calibrate'>, Omit<RepairFlags, 'repair'>, ShardFlags {
  alphas?: string;
  steps?: string;
  layers?: string;
  /** One method, or several comma separated (weight,activation): B aligned afresh by each. */
  align?: string;
  correlation?: CorrelationForm;
  symmetry?: AlignSymmetry;
}

/** The checks that have a switch, with their option names. */
const switchable = CHECKS.flatMap((c) => ('option' in c ? [c.option] : []));

/** The per-layer table: the columns of every check that has some, in registry order. */
function layerTable(analysis: PairAnalysis): string {
  const columns = CHECKS.flatMap((c) => ('layerColumns' in c ? [c.layerColumns(analysis)] : []));
  const legends = columns.flatMap((c) => (c.legend ? [c.legend] : []));
  const table = formatTable(
    columns.flatMap((c) => c.header),
    analysis.layers.map((l) => columns.flatMap((c) => c.cells(l))),
  );
  return `LLFC distance per layer (${legends.join('; ')}) on ${samplesText(analysis)}\n${table}`;
}

/** Every check's printed part in registry order; the per-layer table where the first check with columns is. */
export function analysisText(analysis: PairAnalysis): string {
  const parts: string[] = [];
  let layersPrinted = false;
  for (const check of CHECKS) {
    if ('layerColumns' in check && !layersPrinted) {
      parts.push(layerTable(analysis));
      layersPrinted = true;
    }
    const text = 'text' in check ? check.text(analysis) : '';
    if (text) parts.push(text);
  }
  return parts.join('\n\n');
}

/** The methods of `--align`: one, or several comma separated, each at most once. */
function alignMethods(text: string): AlignMethod[] {
  const methods = parseList(text, '--align');
  methods.forEach((m, i) => {
    if (!(OPTIONS.method.values as readonly string[]).includes(m)) throw new InvalidArgumentError(`--align: item ${i + 1} of '${text}' is '${m}', not one of ${OPTIONS.method.values.join(', ')}`);
    if (methods.indexOf(m) !== i) throw new InvalidArgumentError(`--align: '${m}' is given twice in '${text}'`);
  });
  return methods as AlignMethod[];
}

/** Runs the analysis of two files and prints/writes the report; shared by `analyze` and `demo`. */
export async function runAnalyze(a: string, b: string, flags: AnalyzeFlags): Promise<void> {
  const options = resolveOptions('llfc analyze', ANALYZE_OPTIONS, {
    alphas: flags.alphas !== undefined ? parseNumberList(flags.alphas, '--alphas') : undefined,
    lmcAlphas: alphasFromFlags({ ...(flags.steps !== undefined ? { steps: flags.steps } : {}) }),
    layers: flags.layers !== undefined ? parseList(flags.layers, '--layers') : undefined,
    batchSize: parseNumber(flags.batchSize, '--batch-size'),
    ...(Object.fromEntries(switchable.map((o) => [o.name, flags[o.name]])) as CheckSwitches),
    ...repairOptionsFromFlags(flags),
  });
  const data = datasetOptionsFromFlags(flags);
  const calibration = calibrationFromFlags(flags, data);
  const repairSet = repairSetFromFlags(flags, data);
  if (flags.shard !== undefined) {
    if (flags.align) throw new InvalidArgumentError('--shard with --align: align first (llfc align, sharded too with --method activation), then analyze A and the aligned B with --shard');
    if (options.calibrate) throw new InvalidArgumentError('--shard with --calibrate: the temperature fit needs all the data in one pass and cannot be sharded; run the calibrated analysis whole (without --shard)');
    if (options.repair) throw new InvalidArgumentError('--shard with --repair: REPAIR measures each layer after the earlier ones are corrected, pass after pass, and cannot be sharded; run it whole (without --shard)');
    return runShardFromFlags('analyze', a, b, data, options, flags);
  }
  if (flags.symmetry !== undefined && flags.align === undefined) throw new InvalidArgumentError('--symmetry chooses what --align may change; give --align too');
  const methods = flags.align !== undefined ? alignMethods(flags.align) : undefined;
  const request = { a, b, data, ...(calibration ? { calibration } : {}), ...(repairSet ? { repairSet } : {}) };
  const outputs = await checkOutputs(flags, [a, b, ...datasetFiles(data), ...(calibration ? datasetFiles(calibration) : []), ...(repairSet ? datasetFiles(repairSet) : [])]);
  const { naive: analysis, aligned, alsoAligned, foldedBatchNorm } = await withProgress(flags, (control) =>
    methods
      ? analyzeAligned(
          request,
          { method: methods[0]!, ...(methods.length > 1 ? { alsoAlign: methods.slice(1) } : {}), ...(flags.correlation ? { correlation: flags.correlation } : {}), ...(flags.symmetry ? { symmetry: flags.symmetry } : {}) },
          { ...options, ...control },
        )
      : analyze(request, { ...options, ...control }).then(({ foldedBatchNorm, ...naive }) => ({ naive, aligned: undefined, alsoAligned: undefined, foldedBatchNorm })),
  );
  const source = dataSourceOf(data);
  const notes = foldedBatchNorm ? { foldedBatchNorm } : {};
  await finishReport(analysisReportFields({ a, b, source, settings: analyzeSettings(options, methods?.join(',')) }, analysis, notes, aligned, alsoAligned), flags, outputs, () => {
    const head = analysisHead(a, b, analysis, source, notes);
    if (!aligned) return `${head}\n\n${analysisText(analysis)}`;
    const all = [aligned, ...(alsoAligned ?? [])];
    return [
      head,
      `== naive (B as trained) ==\n\n${analysisText(analysis)}`,
      ...all.map((x) => `== aligned (B permuted by ${alignmentName(x)}; ${x.spec.groups.length} permutation groups: ${symmetriesText(x)}${orthogonalText(x)}) ==\n\n${analysisText(x)}`),
      barrierComparison(analysis, all),
    ].join('\n\n');
  });
}

/** The printout's first lines: what was analyzed (samples, and tokens where the samples are sequences), and the checkpoints' notes. */
export function analysisHead(a: string, b: string, analysis: PairAnalysis, source: string, notes: CheckpointNotes): string {
  return [`Analysis of ${a} (α=0) and ${b} (α=1) on ${samplesText(analysis)} of ${source}`, ...warnings(a, notes)].join('\n');
}

/** One line comparing the naive loss barrier with the aligned ones. */
function barrierComparison(naive: PairAnalysis, aligned: readonly AlignedAnalysis[]): string {
  if (!naive.lmc?.barriers || aligned.some((x) => !x.lmc?.barriers)) return '';
  if (aligned.length === 1) return `loss barrier: naive ${fixed(naive.lmc.barriers.loss)} → aligned ${fixed(aligned[0]!.lmc!.barriers!.loss)}`;
  return `loss barrier: naive ${fixed(naive.lmc.barriers.loss)}${aligned.map((x) => ` → ${alignmentName(x)} ${fixed(x.lmc!.barriers!.loss)}`).join('')}`;
}

/** The orthogonal maps that followed the permutations, if any. */
function orthogonalText(aligned: AlignedAnalysis): string {
  return (aligned.orthogonal ?? []).map((s) => `; then an orthogonal map of the ${s.size}-unit residual stream${s.keepsOnes ? ' (keeping 1, for its LayerNorms)' : ''}, ${s.norms} norm scales folded`).join('');
}

/** The kinds of symmetry an alignment used, with their group counts. */
function symmetriesText(aligned: AlignedAnalysis): string {
  return (aligned.spec.symmetries ?? []).map((s) => `${s.kind} ×${s.groups}`).join(', ');
}

export function analyzeCommand(): Command {
  const command = new Command('analyze')
    .description('LMC plus, per layer, LLFC distance, scale coefficient, weak additivity and commutativity, in one pass over the data')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--alphas <list>', `α values of the per-layer checks (default ${optionDefault('layerAlphas').join(',')})`)
    .option('--steps <n>', `points of the LMC α grid (default ${optionDefault('steps')})`)
    .option('--layers <list>', 'layers to check: node names, tensor names, module paths or op types, comma separated')
    .option('--align <methods>', `also align B to A by permutation (${OPTIONS.method.values.join(', ')}; several comma separated: B aligned by each) and analyze the aligned pair`)
    .addOption(new Option('--correlation <form>', 'activation matching: cross-correlation or Pearson').choices(OPTIONS.correlation.values))
    .addOption(
      new Option('--symmetry <kind>', "with --align: 'orthogonal' analyzes each method's permutations and then the permutations plus an orthogonal map of each residual stream (transformers)").choices(OPTIONS.symmetry.values),
    );
  for (const o of switchable) {
    const flag = o.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const on = optionDefault(o.name);
    command.option(on ? `--no-${flag}` : `--${flag}`, `${on ? 'skip' : 'also measure'} ${o.description}`);
  }
  addCalibrationOptions(command);
  addRepairOptions(command);
  addDataOptions(command);
  addReportOptions(command);
  addShardOption(command);
  return command.action(async (a: string, b: string, flags: AnalyzeFlags) => runAnalyze(a, b, flags));
}
