/**
 * The commands that run sharded, one entry each: the pass over a shard's samples that yields
 * the float64 sums (by part: a check's id), and the result built from sums that the reduction
 * added up. A check of `analyze` takes part through its accumulators() (lib/checks/check.ts).
 */
import type { Checkpoint } from '../checkpoint.js';
import { ANALYZE_OPTIONS, analysisOfSums, analyzeSums, type AnalyzeOptions } from '../checks/analyze.js';
import { LMC_OPTIONS, lmcOfSums, lmcSums, lossSums, type LmcOptions } from '../checks/lmc.js';
import type { Dataset } from '../dataset/index.js';
import { checkpointNotes } from '../folded-batchnorm.js';
import { resolveOptions, type OptionSchema } from '../options.js';
import type { RunControl } from '../progress.js';
import { analysisReportFields, analyzeSettings, lmcReportFields, lmcSettings, type ReportFields, type RunDescription } from '../report/fields.js';
import type { LmcResult, PairAnalysis } from '../results.js';
import type { NamedSums } from '../sums.js';
import type { ShardedCommand } from './partial.js';

/** A sharded command's result: the report's fields, and the result itself (for the printout). */
export type ShardedResult = { readonly fields: ReportFields } & ({ readonly command: 'lmc'; readonly lmc: LmcResult } | { readonly command: 'analyze'; readonly analysis: PairAnalysis });

/** Adds the reduced sums of one part (a check's id) into that part's accumulators. */
export type AddSums = (part: string, accumulators: NamedSums) => void;

interface CommandEntry {
  readonly schema: OptionSchema<object>;
  /** The report's settings from the resolved options. */
  settings(options: Record<string, unknown>): Record<string, unknown>;
  /** The sums of one pass over `data` (a shard's samples), by part. */
  sums(a: Checkpoint, b: Checkpoint, data: Dataset, options: Record<string, unknown>, control: RunControl): Promise<Map<string, NamedSums>>;
  /** The result from the whole data's sums, which `add` fills in. */
  result(a: Checkpoint, b: Checkpoint, data: Dataset, options: Record<string, unknown>, run: RunDescription, add: AddSums): Promise<ShardedResult>;
}

/** The part name of the `lmc` command's sums, and each α's name in it (as the analyze LMC check names them). */
const LMC_PART = 'lmc';
export const lmcSumsName = (alpha: number): string => `α ${alpha}`;

export const SHARDED_COMMANDS: { readonly [K in ShardedCommand]?: CommandEntry } = {
  lmc: {
    schema: LMC_OPTIONS,
    settings: (options) => lmcSettings(options as unknown as { batchSize: number; feed: string }),
    async sums(a, b, data, options, control) {
      const o = options as LmcOptions;
      const passes = await lmcSums(a, b, data, { ...o, ...control });
      return new Map([[LMC_PART, new Map(o.alphas!.map((alpha, i) => [lmcSumsName(alpha), passes[i]!]))]]);
    },
    async result(a, b, data, options, run, add) {
      const alphas = (options as LmcOptions).alphas!;
      const passes = alphas.map(() => lossSums());
      add(LMC_PART, new Map(alphas.map((alpha, i) => [lmcSumsName(alpha), passes[i]!])));
      const lmc = lmcOfSums(a, data, alphas, passes);
      return { command: 'lmc', lmc, fields: lmcReportFields(run, lmc, checkpointNotes(a)) };
    },
  },
  analyze: {
    schema: ANALYZE_OPTIONS,
    settings: (options) => analyzeSettings(options as unknown as AnalyzeOptions & { batchSize: number }),
    sums: (a, b, data, options, control) => analyzeSums(a, b, data, { ...(options as AnalyzeOptions), ...control }),
    async result(a, b, data, options, run, add) {
      const analysis = await analysisOfSums(a, b, data, options as AnalyzeOptions, add);
      return { command: 'analyze', analysis, fields: analysisReportFields(run, analysis, checkpointNotes(a)) };
    },
  },
};

/** The command's options resolved (defaults filled in) and without the callbacks: what a partial records. */
export function shardOptions(command: ShardedCommand, options: object): Record<string, unknown> {
  const { signal: _, onProgress: __, ...plain } = resolveOptions(`${command}()`, commandEntry(command).schema, options) as Record<string, unknown>;
  return plain;
}

export function commandEntry(command: ShardedCommand): CommandEntry {
  return SHARDED_COMMANDS[command]!;
}
