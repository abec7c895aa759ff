/** `llfc lmc A.onnx B.onnx --data X --labels Y`: the LMC curve and barriers. */
import { Command } from 'commander';
import { lmc as runLmcTask } from '../api.js';
import { lmcTable } from '../checks/lmc-loss.js';
import { alphaGrid, LMC_OPTIONS } from '../checks/lmc.js';
import { InvalidArgumentError } from '../errors.js';
import { warnings } from '../folded-batchnorm.js';
import { optionDefault, resolveOptions } from '../options.js';
import type { ParameterFeed } from '../session.js';
import { datasetFiles } from '../dataset/index.js';
import { calibrationTable } from '../checks/calibration.js';
import { addCalibrationOptions, addDataOptions, addRepairOptions, calibrationFromFlags, datasetOptionsFromFlags, repairOptionsFromFlags, repairSetFromFlags, type CalibrationFlags, type DataFlags, type RepairFlags } from './data-options.js';
import { repairTable } from '../checks/repair.js';
import { dataSourceOf, lmcReportFields, lmcSettings } from '../report/fields.js';
import { addShardOption, runShardFromFlags, type ShardFlags } from './shard.js';
import type { CheckpointNotes } from '../folded-batchnorm.js';
import type { LmcResult } from '../results.js';
import type { CalibratedLmcResult } from '../checks/lmc.js';
import { parseNumber, parseNumberList } from './parse.js';
import { addReportOptions, checkOutputs, feedOption, finishReport, withProgress, type ReportFlags } from './report-output.js';

export interface LmcFlags extends DataFlags, ReportFlags, CalibrationFlags, RepairFlags, ShardFlags {
  steps?: string;
  alphas?: string;
  feed?: ParameterFeed;
}

/** The LMC α values `--steps` or `--alphas` give (undefined: neither, the default grid). */
export function alphasFromFlags(flags: { steps?: string; alphas?: string }): number[] | undefined {
  if (flags.steps !== undefined && flags.alphas !== undefined) throw new InvalidArgumentError('give --steps or --alphas, not both');
  if (flags.alphas !== undefined) return parseNumberList(flags.alphas, '--alphas');
  return flags.steps !== undefined ? alphaGrid(parseNumber(flags.steps, '--steps')!) : undefined;
}

/** Runs LMC for two files and prints/writes the report; shared by `lmc` and `demo`. */
export async function runLmc(a: string, b: string, flags: LmcFlags): Promise<void> {
  const options = resolveOptions('llfc lmc', LMC_OPTIONS, { alphas: alphasFromFlags(flags), batchSize: parseNumber(flags.batchSize, '--batch-size'), feed: flags.feed, calibrate: flags.calibrate, ...repairOptionsFromFlags(flags) });
  const { batchSize, feed, calibrate, repair, repairSamples } = options;
  const data = datasetOptionsFromFlags(flags);
  const calibration = calibrationFromFlags(flags, data);
  const repairSet = repairSetFromFlags(flags, data);
  if (flags.shard !== undefined) {
    if (calibrate) throw new InvalidArgumentError('--shard with --calibrate: the temperature fit needs all the data in one pass and cannot be sharded; run the calibrated LMC whole (without --shard)');
    if (repair) throw new InvalidArgumentError('--shard with --repair: REPAIR measures each layer after the earlier ones are corrected, pass after pass, and cannot be sharded; run it whole (without --shard)');
    return runShardFromFlags('lmc', a, b, data, options, flags);
  }
  const outputs = await checkOutputs(flags, [a, b, ...datasetFiles(data), ...(calibration ? datasetFiles(calibration) : []), ...(repairSet ? datasetFiles(repairSet) : [])]);
  const request = { a, b, data, ...(calibration ? { calibration } : {}), ...(repairSet ? { repairSet } : {}) };
  const { foldedBatchNorm, calibration: calibrated, repair: repaired, ...lmc } = await withProgress(flags, (control) => runLmcTask(request, { ...options, ...control }));
  const source = dataSourceOf(data);
  const notes = foldedBatchNorm ? { foldedBatchNorm } : {};
  const fields = lmcReportFields({ a, b, source, settings: lmcSettings({ batchSize, feed, calibrate, repair, repairSamples }) }, lmc, notes, calibrated, repaired);
  await finishReport(fields, flags, outputs, () => lmcText(a, b, lmc, source, notes, calibrated, repaired));
}

/** The printed LMC report (with the calibrated curve's table after --calibrate, the repaired curve's after --repair). */
export function lmcText(a: string, b: string, lmc: LmcResult, source: string, notes: CheckpointNotes, calibrated?: CalibratedLmcResult['calibration'], repaired?: CalibratedLmcResult['repair']): string {
  return [
    `LMC of ${a} (α=0) and ${b} (α=1) on ${lmc.samples} samples of ${source}`,
    ...warnings(a, notes),
    lmcTable(lmc),
    ...(calibrated ? ['', calibrationTable(calibrated, lmc.loss)] : []),
    ...(repaired ? ['', repairTable(repaired, lmc)] : []),
  ].join('\n');
}

export function lmcCommand(): Command {
  const command = new Command('lmc')
    .description('loss and accuracy along the linear path θ(α) = (1−α)θ_A + αθ_B, and the barriers')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .option('--steps <n>', `an even α grid of n points from 0 to 1 (default ${optionDefault('steps')})`)
    .option('--alphas <list>', 'explicit α values, comma separated')
    .addOption(feedOption())
    .option('--calibrate', 'also the temperature-calibrated loss curve and barriers (one T per model; Ito et al. 2025)')
    .option('--repair', 'also the curve after REPAIR: each θ(α) with its hidden layers’ statistics corrected (Jordan et al. 2023)');
  addCalibrationOptions(command);
  addRepairOptions(command);
  addDataOptions(command);
  addReportOptions(command);
  addShardOption(command);
  return command.action(async (a: string, b: string, flags: LmcFlags) => runLmc(a, b, flags));
}
