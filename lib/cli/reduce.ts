/**
 * `llfc reduce P1 P2 … --out report.json [--html report.html]`: what the single run writes,
 * from the partials of every shard of a sharded run (`-o aligned.onnx` for activation matching).
 */
import { Command } from 'commander';
import { reduce, type ReduceResult } from '../api.js';
import { analysisHead, analysisText } from './analyze.js';
import { alignmentFlags, printAlignment } from './align.js';
import { lmcText } from './lmc.js';
import { addReportOptions, printReport, withProgress, type ReportFlags } from './report-output.js';

interface ReduceFlags extends ReportFlags {
  output?: string;
  permOut?: string;
  safetensors?: string;
}

/** The printout of a reduced lmc or analyze run: the single run's. */
function reducedText(result: Exclude<ReduceResult, { command: 'align' }>): string {
  const { models, data, foldedBatchNorm } = result.fields;
  const notes = foldedBatchNorm ? { foldedBatchNorm } : {};
  if (result.command === 'lmc') return lmcText(models.a, models.b, result.lmc, data.source, notes);
  return `${analysisHead(models.a, models.b, result.analysis, data.source, notes)}\n\n${analysisText(result.analysis)}`;
}

export function reduceCommand(): Command {
  const command = new Command('reduce')
    .description('add the partial files of every shard of a run (--shard i/n) into what the single run writes: the report, or the aligned model')
    .argument('<partials...>', "the shards' partial files")
    .option('-o, --output <file>', 'activation matching: the aligned B as ONNX')
    .option('--perm-out <file>', 'activation matching: the permutations as JSON (default: <output>.perms.json)')
    .option('--safetensors <file>', 'activation matching: the aligned parameters under PyTorch names (default: <output>.safetensors)');
  addReportOptions(command);
  return command.action(async (partials: string[], flags: ReduceFlags) => {
    const aligned = flags.output !== undefined ? alignmentFlags(flags).files : undefined;
    const result = await withProgress(flags, (control) => reduce(partials, { ...flags, ...(aligned ? { aligned } : {}) }, control));
    if (result.command === 'align') printAlignment(result.a, result.b, result.alignment, aligned!, flags);
    else printReport(result.report, flags, result.written, () => reducedText(result));
  });
}
