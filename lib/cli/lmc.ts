/** `llfc lmc A.onnx B.onnx --data X --labels Y`: the LMC curve and barriers. */
import { Command } from 'commander';
import { lmc as runLmcTask } from '../api.js';
import { alphaGrid } from '../checks/lmc.js';
import { lmcTable } from '../checks/lmc-loss.js';
import { InvalidArgumentError } from '../errors.js';
import type { ParameterFeed } from '../session.js';
import { addDataOptions, dataInputs, datasetOptionsFromFlags, parseNumberList, parsePositiveInteger, type DataFlags } from './data-options.js';
import { addReportOptions, checkOutputs, feedOption, finishReport, withProgress, type ReportFlags } from './report-output.js';

export interface LmcFlags extends DataFlags, ReportFlags {
  steps?: string;
  alphas?: string;
  feed: ParameterFeed;
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
  const inputs = [a, b, ...dataInputs(flags)];
  const outputs = await checkOutputs(flags, inputs);
  const data = datasetOptionsFromFlags(flags);
  const lmc = await withProgress(flags, (control) => runLmcTask({ a, b, data }, { alphas, batchSize, feed: flags.feed, ...control }));
  const source = flags.data.join(', ');
  await finishReport(
    {
      models: { a, b },
      data: { source, samples: lmc.samples, labels: true },
      settings: { batchSize, feed: flags.feed },
      lmc,
    },
    flags,
    outputs,
    () => `LMC of ${a} (α=0) and ${b} (α=1) on ${lmc.samples} samples of ${source}\n${lmcTable(lmc)}`,
  );
}

export function lmcCommand(): Command {
  const command = new Command('lmc')
    .description('loss and accuracy along the linear path θ(α) = (1−α)θ_A + αθ_B, and the barriers')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--steps <n>', 'an even α grid of n points from 0 to 1 (default 11)')
    .option('--alphas <list>', 'explicit α values, comma separated')
    .addOption(feedOption());
  addDataOptions(command);
  addReportOptions(command);
  return command.action(async (a: string, b: string, flags: LmcFlags) => runLmc(a, b, flags));
}
