/** `llfc spec model.onnx`: the permutation groups inferred from the graph, the fixed axes with reasons, and tied LM heads. */
import { Command } from 'commander';
import { loadCheckpoint } from '../checkpoint.js';
import { formatSpec, inferSpec } from '../align/spec/index.js';
import { formatTiedHeads, tiedHeads } from '../onnx/tied-heads.js';
import { checkOutputs, commitOutputs } from '../outputs.js';
import { parseNumberList } from './parse.js';

export interface SpecFlags {
  inputShape?: string;
  json?: boolean;
  out?: string;
}

/** The dims of `--input-shape` (whether they fit the model is checked where the graph is probed). */
export function parseInputShape(text: string | undefined): number[] | undefined {
  return text === undefined ? undefined : parseNumberList(text, '--input-shape');
}

export function specCommand(): Command {
  return new Command('spec')
    .description('the permutation groups of a model, inferred from its ONNX graph: size, the tensors and axes each acts on, and the fixed axes with reasons')
    .argument('<model>', 'an ONNX model')
    .option('--input-shape <dims>', 'input shape to probe the graph with, batch included (needed when a non-batch dim is symbolic)')
    .option('--json', 'print the spec as JSON')
    .option('--out <file>', 'also write the spec as JSON here')
    .action(async (file: string, flags: SpecFlags) => {
      const inputShape = parseInputShape(flags.inputShape);
      const outputs = await checkOutputs([flags.out !== undefined ? { path: flags.out, label: '--out' } : undefined], [file]);
      const checkpoint = await loadCheckpoint(file);
      const spec = await inferSpec(checkpoint, inputShape ? { inputShape } : {});
      const heads = tiedHeads(checkpoint.model.graph!, file);
      const json = `${JSON.stringify(heads.length > 0 ? { ...spec, tiedHeads: heads } : spec, null, 2)}\n`;
      if (flags.out !== undefined) await commitOutputs(outputs, [{ path: flags.out, content: json }]);
      process.stdout.write(flags.json ? json : `${[formatSpec(spec), ...(heads.length > 0 ? [formatTiedHeads(heads)] : [])].join('\n')}\n`);
    });
}
