/** `llfc permute B.onnx --random --seed N -o out.onnx`: the same function with its hidden units permuted. */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { loadCheckpoint } from '../checkpoint.js';
import { permuteArena, permutedModel, permutationsFromJson, permutationsToJson, randomPermutations } from '../align/permute.js';
import { inferSpec } from '../align/spec/index.js';
import { InvalidArgumentError, PermutationError } from '../errors.js';
import { externalDataFiles, modelFiles, modelOutputs } from '../onnx/external-output.js';
import { optionDefault, resolveOptions } from '../options.js';
import { checkOutputs, commitOutputs, type OutputFile } from '../outputs.js';
import { parseNumber } from './parse.js';
import { loadWithPair, PAIR_HELP, parseInputShape, PERMUTE_CONSTANTS_HELP, specOptionsFromFlags } from './spec.js';

export interface PermuteFlags {
  random?: boolean;
  seed?: string;
  perms?: string;
  output: string;
  permOut?: string;
  inputShape?: string;
  pair?: string;
  permuteConstants?: boolean;
  quiet?: boolean;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PermutationError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PermutationError(`${file}: not JSON (${(error as Error).message})`);
  }
}

export function permuteCommand(): Command {
  return new Command('permute')
    .description('permute the hidden units of a model (every group of its inferred spec): the function is unchanged')
    .argument('<model>', 'an ONNX model')
    .option('--random', 'a uniformly random permutation of every group')
    .option('--seed <n>', `seed of --random (default ${optionDefault('seed')})`)
    .option('--perms <file>', 'apply the permutations of this JSON file (as written by --perm-out or `llfc align`)')
    .requiredOption('-o, --output <file>', 'the permuted ONNX model')
    .option('--perm-out <file>', 'write the permutations as JSON')
    .option('--input-shape <dims>', 'input shape to probe the graph with, batch included')
    .option('--pair <model>', PAIR_HELP)
    .option('--permute-constants', PERMUTE_CONSTANTS_HELP)
    .option('--quiet', 'print nothing but errors')
    .action(async (file: string, flags: PermuteFlags) => {
      if (Boolean(flags.random) === Boolean(flags.perms)) throw new InvalidArgumentError('give either --random or --perms <file>');
      const { seed } = resolveOptions('llfc permute', { seed: 'seed' } as const, { seed: parseNumber(flags.seed, '--seed') });
      parseInputShape(flags.inputShape);
      const data = await externalDataFiles(file);
      const outputs = await checkOutputs(
        [...modelOutputs(flags.output, '--output', data.length > 0), flags.permOut !== undefined ? { path: flags.permOut, label: '--perm-out' } : undefined],
        [file, ...data, ...(flags.perms ? [flags.perms] : []), ...(flags.pair !== undefined ? [flags.pair] : [])],
      );
      const { checkpoint, other } = await loadWithPair(file, flags.pair);
      const spec = await inferSpec(checkpoint, specOptionsFromFlags(checkpoint, other, flags));
      const perms = flags.perms ? permutationsFromJson(spec, await readJson(flags.perms), flags.perms) : randomPermutations(spec, seed);
      const arena = permuteArena(checkpoint, spec, perms);
      const { model, untied } = permutedModel(checkpoint, arena);
      const files: OutputFile[] = modelFiles(model, flags.output, checkpoint.externalData);
      if (flags.permOut !== undefined) {
        const extra = flags.perms ? { source: flags.perms } : { random: true, seed };
        files.push({ path: flags.permOut, content: `${JSON.stringify(permutationsToJson(spec, perms, extra), null, 1)}\n` });
      }
      await commitOutputs(outputs, files);
      if (!flags.quiet) {
        const units = spec.groups.reduce((n, g) => n + g.size, 0);
        process.stdout.write(
          `permuted ${spec.groups.length} groups (${units} units) of ${file}${flags.perms ? ` with ${flags.perms}` : ` at random (seed ${seed})`}; written to ${flags.output}` +
            (flags.permOut ? `, permutations to ${flags.permOut}` : '') +
            '\n' +
            (untied.length > 0 ? `untied ${untied.length} shared tensor${untied.length === 1 ? '' : 's'} whose uses are now permuted differently: ${untied.map((u) => `${u.tensor} → ${u.names.join(', ')}`).join('; ')}\n` : ''),
        );
      }
    });
}
