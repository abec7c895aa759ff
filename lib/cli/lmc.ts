/** `llfc lmc A.onnx B.onnx --data X --labels Y`: the LMC curve and barriers. */
import { Command, Option } from 'commander';
import { loadCheckpoint } from '../checkpoint.js';
import { alphaGrid, linearModeConnectivity, type LmcResult } from '../checks/lmc.js';
import { InvalidArgumentError } from '../errors.js';
import { buildReport, checkOutputPath, writeReport } from '../report/json.js';
import { checkReportOutputs, describeOutputs, writeReportOutputs, type ReportOutputFlags } from '../report/write.js';
import type { ParameterFeed } from '../session.js';
import { addDataOptions, openDataFromFlags, parseNumberList, parsePositiveInteger, type DataFlags } from './data-options.js';
import { fixed, formatTable, interruptSignal, percent, progressBar, type OutputOptions } from './terminal.js';

export interface LmcFlags extends DataFlags, OutputOptions, ReportOutputFlags {
  steps?: string;
  alphas?: string;
  out?: string;
  feed: ParameterFeed;
}

export function lmcTable(lmc: LmcResult): string {
  const table = formatTable(
    ['α', 'loss', 'accuracy'],
    lmc.alphas.map((a, i) => [a.toFixed(3), fixed(lmc.loss[i]!), percent(lmc.accuracy[i]!)]),
  );
  const barriers = lmc.barriers
    ? `barriers: loss ${fixed(lmc.barriers.loss)} · loss vs midpoint ${fixed(lmc.barriers.lossMidpoint)} · accuracy ${percent(lmc.barriers.accuracy)}`
    : 'barriers: need α = 0 and α = 1';
  return `${table}\n${barriers}`;
}

export function alphasFromFlags(flags: { steps?: string; alphas?: string }): number[] {
  if (flags.steps !== undefined && flags.alphas !== undefined) throw new InvalidArgumentError('give --steps or --alphas, not both');
  if (flags.alphas !== undefined) return parseNumberList(flags.alphas, '--alphas');
  return alphaGrid(flags.steps !== undefined ? parsePositiveInteger(flags.steps, '--steps') : 11);
}

/** Runs LMC for two files and prints/writes the report; shared by `lmc` and `demo`. */
export async function runLmc(a: string, b: string, flags: LmcFlags): Promise<void> {
  const alphas = alphasFromFlags(flags);
  const batchSize = parsePositiveInteger(flags.batchSize, '--batch-size');
  const inputs = [a, b, ...flags.data, ...(flags.labels ? [flags.labels] : [])];
  if (flags.out) checkOutputPath(flags.out, inputs);
  checkReportOutputs(flags, [...inputs, ...(flags.out ? [flags.out] : [])]);
  const [ca, cb, data] = await Promise.all([loadCheckpoint(a), loadCheckpoint(b), openDataFromFlags(flags)]);
  const bar = progressBar(flags);
  const interrupt = interruptSignal();
  let lmc: LmcResult;
  try {
    lmc = await linearModeConnectivity(ca, cb, data, { alphas, batchSize, feed: flags.feed, signal: interrupt.signal, onProgress: bar.listener });
  } finally {
    bar.stop();
    interrupt.dispose();
  }
  const report = buildReport({
    models: { a, b },
    data: { source: data.source, samples: data.length, labels: data.labels !== undefined },
    settings: { batchSize, feed: flags.feed },
    lmc,
  });
  if (flags.out) await writeReport(report, flags.out);
  const written = await writeReportOutputs(report, flags, inputs);
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!flags.quiet) {
    process.stdout.write(`LMC of ${a} (α=0) and ${b} (α=1) on ${data.length} samples of ${data.source}\n${lmcTable(lmc)}\n`);
    if (flags.out) process.stdout.write(`report written to ${flags.out}\n`);
    process.stdout.write(describeOutputs(written));
  }
}

export function addOutputOptions(command: Command): Command {
  return command
    .option('--json', 'print the report as JSON on stdout')
    .option('--quiet', 'print nothing but errors')
    .addOption(new Option('--feed <mode>', 'how parameters reach onnxruntime').choices(['initializers', 'inputs']).default('initializers'));
}

export function lmcCommand(): Command {
  const command = new Command('lmc')
    .description('loss and accuracy along the linear path θ(α) = (1−α)θ_A + αθ_B, and the barriers')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--steps <n>', 'an even α grid of n points from 0 to 1 (default 11)')
    .option('--alphas <list>', 'explicit α values, comma separated')
    .option('--out <file>', 'write the JSON report here')
    .option('--html <file>', 'write a self-contained HTML report with charts here')
    .option('--plots <dir>', 'write each chart as SVG and PNG into this directory');
  addDataOptions(command);
  addOutputOptions(command);
  return command.action(async (a: string, b: string, flags: LmcFlags) => runLmc(a, b, flags));
}
