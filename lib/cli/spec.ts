/** `llfc spec model.onnx`: the permutation groups inferred from the graph, the fixed axes with reasons, and tied LM heads. */
import { Command } from 'commander';
import { loadCheckpoint, pairCheckpoints, type Checkpoint } from '../checkpoint.js';
import { loadPair } from '../load-checkpoints.js';
import { formatSpec, inferSpec, sharedConstants, type SpecOptions } from '../align/spec/index.js';
import { formatTiedHeads, tiedHeads } from '../onnx/tied-heads.js';
import { checkOutputs, commitOutputs } from '../outputs.js';
import { parseNumberList } from './parse.js';

export interface SpecFlags {
  inputShape?: string;
  pair?: string;
  permuteConstants?: boolean;
  json?: boolean;
  out?: string;
}

/** The dims of `--input-shape` (whether they fit the model is checked where the graph is probed). */
export function parseInputShape(text: string | undefined): number[] | undefined {
  return text === undefined ? undefined : parseNumberList(text, '--input-shape');
}

export const PAIR_HELP = 'the other checkpoint of the pair: float tensors equal in both are constants of the architecture, and the groups they would change stay fixed';
export const PERMUTE_CONSTANTS_HELP = 'permute symmetry-breaking constants (tensors equal in both checkpoints) like parameters instead of fixing the groups they would change';

/**
 * The model, and with `--pair` its partner, loaded together (an all-zero bias one of them dropped
 * is restored as zeros, lib/load-checkpoints.ts) and paired by structure.
 */
export async function loadWithPair(file: string, pair: string | undefined): Promise<{ checkpoint: Checkpoint; other?: Checkpoint }> {
  if (pair === undefined) return { checkpoint: await loadCheckpoint(file) };
  const [checkpoint, other] = await loadPair(file, pair);
  pairCheckpoints(checkpoint, other);
  return { checkpoint, other };
}

/** The spec options of `--input-shape`, `--pair` (its checkpoint: `other`) and `--permute-constants` for `checkpoint`. */
export function specOptionsFromFlags(checkpoint: Checkpoint, other: Checkpoint | undefined, flags: SpecFlags): SpecOptions {
  const inputShape = parseInputShape(flags.inputShape);
  const constants = other ? sharedConstants(checkpoint, other).a : undefined;
  return { ...(inputShape ? { inputShape } : {}), ...(constants ? { constants } : {}), permuteConstants: Boolean(flags.permuteConstants) };
}

export function specCommand(): Command {
  return new Command('spec')
    .description('the permutation groups of a model, inferred from its ONNX graph: size, the tensors and axes each acts on, and the fixed axes with reasons')
    .argument('<model>', 'an ONNX model')
    .option('--input-shape <dims>', 'input shape to probe the graph with, batch included (needed when a non-batch dim is symbolic)')
    .option('--pair <model>', PAIR_HELP)
    .option('--permute-constants', PERMUTE_CONSTANTS_HELP)
    .option('--json', 'print the spec as JSON')
    .option('--out <file>', 'also write the spec as JSON here')
    .action(async (file: string, flags: SpecFlags) => {
      parseInputShape(flags.inputShape);
      const outputs = await checkOutputs([flags.out !== undefined ? { path: flags.out, label: '--out' } : undefined], [file, ...(flags.pair !== undefined ? [flags.pair] : [])]);
      const { checkpoint, other } = await loadWithPair(file, flags.pair);
      const spec = await inferSpec(checkpoint, specOptionsFromFlags(checkpoint, other, flags));
      const heads = tiedHeads(checkpoint.model.graph!, file);
      const json = `${JSON.stringify(heads.length > 0 ? { ...spec, tiedHeads: heads } : spec, null, 2)}\n`;
      if (flags.out !== undefined) await commitOutputs(outputs, [{ path: flags.out, content: json }]);
      process.stdout.write(flags.json ? json : `${[formatSpec(spec), ...(heads.length > 0 ? [formatTiedHeads(heads)] : [])].join('\n')}\n`);
    });
}
