/** `llfc interpolate A.onnx B.onnx --alpha 0.5 -o mid.onnx`: write the model θ(α). */
import { Command } from 'commander';
import { interpolate } from '../api.js';
import { warnings } from '../folded-batchnorm.js';
import { parseNumber } from './parse.js';

export function interpolateCommand(): Command {
  return new Command('interpolate')
    .description('write the model θ(α) = (1−α)θ_A + αθ_B as ONNX (A’s graph, every parameter interpolated)')
    .argument('<a>', 'checkpoint A (ONNX), α = 0')
    .argument('<b>', 'checkpoint B (ONNX), α = 1')
    .requiredOption('--alpha <α>', 'the weight on B, in [0, 1]')
    .requiredOption('-o, --output <file>', 'the ONNX file to write')
    .option('--quiet', 'print nothing but errors')
    .action(async (a: string, b: string, flags: { alpha: string; output: string; quiet?: boolean }) => {
      const alpha = parseNumber(flags.alpha, '--alpha')!;
      const { perUse, ...notes } = await interpolate(a, b, alpha, flags.output);
      if (!flags.quiet) {
        process.stdout.write(`wrote θ(${alpha}) of ${a} and ${b} to ${flags.output}\n`);
        for (const line of warnings(a, notes)) process.stdout.write(`${line}\n`);
        if (perUse) process.stdout.write('note: a tensor shared in A takes different values in θ(α); every use got its own initializer (llfc_param_k)\n');
      }
    });
}
