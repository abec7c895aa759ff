/** `llfc reduce P1 P2 … --out report.json [--html report.html]`: the report of a sharded run from its partials. */
import { Command } from 'commander';
import { reduce } from '../api.js';
import type { ShardedResult } from '../shard/commands.js';
import { analysisHead, analysisText } from './analyze.js';
import { lmcText } from './lmc.js';
import { addReportOptions, printReport, withProgress, type ReportFlags } from './report-output.js';

/** The printout of the reduced run: the single run's. */
function reducedText(result: ShardedResult): string {
  const { models, data, foldedBatchNorm } = result.fields;
  const notes = foldedBatchNorm ? { foldedBatchNorm } : {};
  if (result.command === 'lmc') return lmcText(models.a, models.b, result.lmc, data.source, notes);
  return `${analysisHead(models.a, models.b, result.analysis, data.source, notes)}\n\n${analysisText(result.analysis)}`;
}

export function reduceCommand(): Command {
  const command = new Command('reduce')
    .description('add the partial files of every shard of a run (--shard i/n) into the report the single run writes')
    .argument('<partials...>', "the shards' partial files");
  addReportOptions(command);
  return command.action(async (partials: string[], flags: ReportFlags) => {
    const result = await withProgress(flags, (control) => reduce(partials, flags, control));
    printReport(result.report, flags, result.written, () => reducedText(result));
  });
}
