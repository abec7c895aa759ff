/** `llfc spec model.onnx`: the permutation groups inferred from the graph, and the fixed axes with reasons. */
import { Command } from 'commander';
import { loadCheckpoint } from '../checkpoint.js';
import { describeAction, inferSpec, type PermutationSpec } from '../align/spec.js';
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

const list = (items: string[], max = 12): string => (items.length <= max ? items.join(' · ') : `${items.slice(0, max).join(' · ')} · … (${items.length - max} more)`);

/** The spec as text: one block per group, then fixed channels, width-1 layers and unknown ops. */
export function formatSpec(spec: PermutationSpec): string {
  const lines: string[] = [];
  lines.push(
    `permutation spec of ${spec.file} (graph probed with input [${spec.inputShape.join(', ')}]): ` +
      `${spec.groups.length} group${spec.groups.length === 1 ? '' : 's'}, ${spec.fixed.length} fixed, ${spec.trivial.length} of width 1, ${spec.unknownOps.length} unknown op${spec.unknownOps.length === 1 ? '' : 's'}`,
  );
  for (const g of spec.groups) {
    lines.push(`group ${g.index}: ${g.size} units, ${g.label}`);
    lines.push(`  acts on ${list(g.parameters.map((a) => describeAction(a, g.size)))}`);
    if (g.activations.length > 0) lines.push(`  activations: ${list(g.activations.map((v) => describeAction(v, g.size)), 4)}`);
  }
  if (spec.fixed.length > 0) {
    lines.push('fixed (these axes stay in place):');
    for (const f of spec.fixed) {
      lines.push(`  ${f.size} units, ${f.label}: ${f.reasons.join('; ')}`);
      lines.push(`    ${list(f.parameters.map((a) => describeAction(a, f.size)))}`);
    }
  }
  if (spec.trivial.length > 0) {
    lines.push('width 1 (nothing to permute):');
    for (const t of spec.trivial) lines.push(`  ${t.label}: ${list(t.parameters.map((a) => describeAction(a, 1)))}`);
  }
  if (spec.unknownOps.length > 0) {
    lines.push('ops the inference does not know (everything they touch is fixed):');
    for (const u of spec.unknownOps) lines.push(`  ${u.op} at node '${u.node}'`);
  }
  return lines.join('\n');
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
      const spec = await inferSpec(await loadCheckpoint(file), inputShape ? { inputShape } : {});
      const json = `${JSON.stringify(spec, null, 2)}\n`;
      if (flags.out !== undefined) await commitOutputs(outputs, [{ path: flags.out, content: json }]);
      process.stdout.write(flags.json ? json : `${formatSpec(spec)}\n`);
    });
}
