/** `llfc interpolate A.onnx B.onnx --alpha 0.5 -o mid.onnx [--repair --data X]`: write the model θ(α), or its repaired form. */
import { Command } from 'commander';
import { interpolate, interpolateRepaired } from '../api.js';
import { InvalidArgumentError } from '../errors.js';
import { warnings } from '../folded-batchnorm.js';
import { addDataOptions, datasetOptionsFromFlags, repairOptionsFromFlags, type DataFlags, type RepairFlags } from './data-options.js';
import { optionDefault } from '../options.js';
import { parseNumber } from './parse.js';
import { withProgress } from './report-output.js';

interface InterpolateFlags extends DataFlags, Omit<RepairFlags, 'repairData'> {
  alpha: string;
  output: string;
  quiet?: boolean;
}

/** Writes θ(α), or with --repair the repaired θ(α) (statistics from the first --repair-samples of --data), and says what it wrote. */
async function runInterpolate(a: string, b: string, flags: InterpolateFlags): Promise<void> {
  const alpha = parseNumber(flags.alpha, '--alpha')!;
  const say = (line: string): void => {
    if (!flags.quiet) process.stdout.write(`${line}\n`);
  };
  if (!flags.repair) {
    if (flags.repairSamples !== undefined) repairOptionsFromFlags(flags);
    if (flags.data !== undefined || flags.input !== undefined || flags.tokens !== undefined) throw new InvalidArgumentError('interpolate reads data only for --repair (its statistics); give --repair or leave out the data');
    const { perUse, ...notes } = await interpolate(a, b, alpha, flags.output);
    say(`wrote θ(${alpha}) of ${a} and ${b} to ${flags.output}`);
    for (const line of warnings(a, notes)) say(line);
    if (perUse) say('note: a tensor shared in A takes different values in θ(α); every use got its own initializer (llfc_param_k)');
    return;
  }
  const { repair: _, ...options } = repairOptionsFromFlags(flags);
  const data = datasetOptionsFromFlags(flags);
  const batchSize = parseNumber(flags.batchSize, '--batch-size');
  const { perUse, form, layers, statistics, ...notes } = await withProgress(flags, (control) => interpolateRepaired({ a, b, alpha, data, output: flags.output }, { ...options, ...(batchSize !== undefined ? { batchSize } : {}), ...control }));
  say(`wrote the repaired θ(${alpha}) of ${a} and ${b} to ${flags.output}`);
  say(form === 'batchnorm' ? `REPAIR: BatchNorm statistics reset of ${layers.join(', ')}` : `REPAIR: ${layers.length} hidden layers corrected (${layers.join(', ')})`);
  say(`statistics on the first ${statistics.samples} samples of ${statistics.source}`);
  for (const line of warnings(a, notes)) say(line);
  if (perUse) say('note: a tensor shared in A takes different values in θ(α); every use got its own initializer (llfc_param_k)');
}

export function interpolateCommand(): Command {
  const command = new Command('interpolate')
    .description('write the model θ(α) = (1−α)θ_A + αθ_B as ONNX (A’s graph, every parameter interpolated); with --repair, θ(α) after REPAIR')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .requiredOption('--alpha <α>', 'the weight on B, in [0, 1]')
    .requiredOption('-o, --output <file>', 'the ONNX file to write')
    .option('--repair', 'write θ(α) after REPAIR (Jordan et al. 2023): its hidden layers’ statistics corrected, measured on --data')
    .option('--repair-samples <n>', `with --repair: the first n samples of --data are the statistics set (default ${optionDefault('repairSamples')})`)
    .option('--quiet', 'print nothing but errors');
  addDataOptions(command);
  return command.action(async (a: string, b: string, flags: InterpolateFlags) => runInterpolate(a, b, flags));
}
