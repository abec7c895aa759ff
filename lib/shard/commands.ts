/**
 * The commands that run sharded, one entry each: the pass over a shard's samples that yields
 * the float64 sums (by part: a check's id), and the result built from sums that the reduction
 * added up. A check of `analyze` takes part through its accumulators() (lib/checks/check.ts).
 */
import type { Checkpoint } from '../checkpoint.js';
import { ANALYZE_OPTIONS, analysisOfSums, analyzeSums, type AnalyzeOptions } from '../checks/analyze.js';
import { LMC_OPTIONS, lmcOfSums, lmcSums, type LmcOptions } from '../checks/lmc.js';
import { lossSums } from '../checks/loss.js';
import type { Dataset } from '../dataset/index.js';
import { checkpointNotes } from '../folded-batchnorm.js';
import { resolveOptions, type OptionSchema } from '../options.js';
import type { RunControl } from '../progress.js';
import { analysisReportFields, analyzeSettings, lmcReportFields, lmcSettings, type ReportFields, type RunDescription } from '../report/fields.js';
import type { LmcResult, PairAnalysis } from '../results.js';
import type { NamedSums } from '../sums.js';
import type { ShardedCommand } from './partial.js';
import { activationAlignment, activationMatchingOfSums, activationMatchingSums, pairSpec, PLAIN_ALIGN_OPTIONS, type AlignOptions } from '../align/index.js';
import { alignFilesResult, type AlignFilesResult, type AlignmentOutputs } from '../align/output.js';
import { InvalidArgumentError } from '../errors.js';
import type { OutputFile } from '../outputs.js';

/**
 * A sharded command's result: for `lmc` and `analyze` the report's fields and the result itself
 * (for the printout); for activation matching what `alignFiles` gives, with the files to write.
 */
export type ShardedResult =
  | { readonly command: 'lmc'; readonly fields: ReportFields; readonly lmc: LmcResult }
  | { readonly command: 'analyze'; readonly fields: ReportFields; readonly analysis: PairAnalysis }
  | { readonly command: 'align'; readonly a: string; readonly b: string; readonly alignment: AlignFilesResult; readonly files: readonly OutputFile[] };

/** Adds the reduced sums of one part (a check's id) into that part's accumulators. */
export type AddSums = (part: string, accumulators: NamedSums) => void;

/** What the result of a reduced run is built from. */
export interface ReducedRun {
  /** The pair and the whole data, as the shards read them. */
  readonly a: Checkpoint;
  readonly b: Checkpoint;
  readonly data: Dataset;
  readonly options: Record<string, unknown>;
  readonly run: RunDescription;
  /** The files of an alignment (align only). */
  readonly alignment?: AlignmentOutputs;
  readonly add: AddSums;
}

interface CommandEntry {
  readonly schema: OptionSchema<object>;
  /** The report's settings from the resolved options. */
  settings(options: Record<string, unknown>): Record<string, unknown>;
  /** The sums of one pass over `data` (a shard's samples), by part. */
  sums(a: Checkpoint, b: Checkpoint, data: Dataset, options: Record<string, unknown>, control: RunControl): Promise<Map<string, NamedSums>>;
  /** The result from the whole data's sums, which `run.add` fills in. */
  result(run: ReducedRun): Promise<ShardedResult>;
}

/** The part name of the `lmc` command's sums, and each α's name in it (as the analyze LMC check names them). */
const LMC_PART = 'lmc';
export const lmcSumsName = (alpha: number): string => `α ${alpha}`;

export const SHARDED_COMMANDS: { readonly [K in ShardedCommand]: CommandEntry } = {
  lmc: {
    schema: LMC_OPTIONS,
    settings: (options) => lmcSettings(options as unknown as { batchSize: number; feed: string }),
    async sums(a, b, data, options, control) {
      const o = options as LmcOptions;
      const passes = await lmcSums(a, b, data, { ...o, ...control });
      return new Map([[LMC_PART, new Map(o.alphas!.map((alpha, i) => [lmcSumsName(alpha), passes[i]!]))]]);
    },
    async result({ a, data, options, run, add }) {
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
    async result({ a, b, data, options, run, add }) {
      const analysis = await analysisOfSums(a, b, data, options as AnalyzeOptions, add);
      return { command: 'analyze', analysis, fields: analysisReportFields(run, analysis, checkpointNotes(a)) };
    },
  },
  align: {
    schema: PLAIN_ALIGN_OPTIONS,
    settings: () => ({}),
    async sums(a, b, data, options, control) {
      const o = activationOptions(options);
      const { bound } = await pairSpec(a, b, undefined, o.inputShape, o.permuteConstants);
      return new Map([[ACTIVATION_PART, await activationMatchingSums(a, b, bound, { ...matching(o), data, ...control })]]);
    },
    async result({ a, b, data, options, run, alignment, add }) {
      const o = activationOptions(options);
      const { spec, bound } = await pairSpec(a, b, undefined, o.inputShape, o.permuteConstants);
      const am = await activationMatchingOfSums(a, b, bound, { ...matching(o), data }, (named) => add(ACTIVATION_PART, named));
      const { files, ...result } = alignFilesResult(a, checkpointNotes(a), activationAlignment(b, spec, bound, am), alignment ?? {});
      return { command: 'align', a: run.a, b: run.b, alignment: result, files };
    },
  },
};

/** The part name of activation matching's correlation sums. */
const ACTIVATION_PART = 'activation matching';

/** The options of alignment that activation matching takes. */
const matching = ({ batchSize, correlation, threads }: Omit<AlignOptions, 'data' | 'spec'>) => ({ batchSize, correlation, threads });

/** Alignment options for a sharded run: activation matching only (weight matching reads no data to share out). */
function activationOptions(options: Record<string, unknown>): Omit<AlignOptions, 'data' | 'spec'> {
  if (options.method !== 'activation') throw new InvalidArgumentError(`--shard splits the data of activation matching; --method ${String(options.method)} reads no data: run it whole`);
  return options as unknown as Omit<AlignOptions, 'data' | 'spec'>;
}

/** The command's options resolved (defaults filled in) and without the callbacks: what a partial records. */
export function shardOptions(command: ShardedCommand, options: object): Record<string, unknown> {
  const { signal: _, onProgress: __, ...plain } = resolveOptions(`${command}()`, commandEntry(command).schema, options) as Record<string, unknown>;
  // T is fitted on all the logits at once (a minimization, not a sum of the batches): no shard can hold its share of it.
  if (plain.calibrate || plain.calibrationData) throw new InvalidArgumentError(`${command}(): the temperature calibration (calibrate) cannot be sharded: T is fitted on all the data at once; run it without shard`);
  // REPAIR measures each layer after the earlier ones are corrected, pass after pass: no sums to split either.
  if (plain.repair || plain.repairData) throw new InvalidArgumentError(`${command}(): REPAIR (repair) cannot be sharded: each layer is measured after the earlier ones are corrected, pass after pass; run it without shard`);
  return plain;
}

export function commandEntry(command: ShardedCommand): CommandEntry {
  return SHARDED_COMMANDS[command];
}
