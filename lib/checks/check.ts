/**
 * The one shape of a check of a pair (SCIENCE.md §1–4, §6). A check says which graph values it
 * reads from the shared pass over the data, takes each batch, and adds its part to the pair's
 * result; its definition also says how that part is shown (printed table, HTML section,
 * charts) and which option turns it on or off. lib/checks/registry.ts lists the checks.
 */
import type { Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import type { Chart } from '../present/charts.js';
import type { ReportSections } from '../present/sections.js';
import type { LayerReport, PairAnalysis } from '../results.js';
import type { RunControl } from '../progress.js';
import type { FloatTensor } from '../session.js';
import type { NamedSums } from '../sums.js';
import type { LayerSpec } from './layers.js';

/** What every check of one run is set up with (validated by analyzePair). */
export interface PairSetup {
  readonly a: Checkpoint;
  readonly b: Checkpoint;
  readonly data: Dataset;
  /** The reported layers, in graph order. */
  readonly layers: readonly LayerSpec[];
  /** α of the per-layer checks. */
  readonly alphas: readonly number[];
  /** α grid of the LMC curve (empty without labels). */
  readonly lmcAlphas: readonly number[];
  /** A separate labelled set for the checks that fit something (temperature calibration): a pass over it comes first. */
  readonly calibrationData?: Dataset;
  /** REPAIR's statistics set (default: the data) and how many of its samples it reads. */
  readonly repairData?: Dataset;
  readonly repairSamples?: number;
}

/** The graph values a check reads: from A and B, and from θ(α) at its α. */
export interface CheckNeeds {
  readonly endpointValues: readonly string[];
  /** α whose interpolated model must run (α = 0 and 1 are A and B). */
  readonly alphas: readonly number[];
  /**
   * Values tapped from the interpolated models at those α (the logits are always there); in
   * addAt, A's and B's values are readable only under these names (the pass lets go of the
   * others after add()).
   */
  readonly interpolatedValues: readonly string[];
  /**
   * Values read together in one call (an activation's input and output), where one of them is
   * not an input of the node computing another: a pass in segments keeps each group readable
   * until the segment that computes the last of it (PairBatch.covers).
   */
  readonly groups?: readonly (readonly string[])[];
}

/**
 * One batch of the shared pass: A's and B's values for the whole batch, and those of one
 * interpolated model at a time (PairCheck.addAt), so the pass never holds the features of
 * several θ(α) at once.
 */
export interface PairBatch {
  readonly size: number;
  readonly labels: Int32Array | undefined;
  /**
   * Whether this call reads `names` together: a pass over a large model runs it part by part
   * and calls add() and addAt() once per part (lib/checks/pass-models.ts); each group of values
   * a check reads together (a layer's output, an activation's input and output) is read in the
   * one call whose part computes the last of them, where all of them are readable. A check
   * skips a group this call does not cover; with whole runs, every call covers every group.
   */
  covers(names: readonly string[]): boolean;
  /**
   * A graph value or the model input of θ(α): α = 0 is A, α = 1 is B, any other α only while
   * it is the α of the addAt (or calibrate) call at work; `where` names it in errors.
   */
  value(name: string, alpha: number, where: string): FloatTensor;
}

/**
 * What a check adds to the pair's result: whole fields of the analysis, and fields of the
 * reported layers (indexed as PairSetup.layers, merged in registry order).
 */
export interface CheckResult extends Partial<Omit<PairAnalysis, 'alphas' | 'samples' | 'layers'>> {
  readonly layers?: readonly (Partial<LayerReport> | undefined)[];
}

/** A check at work on one pair. */
export interface PairCheck {
  readonly needs: CheckNeeds;
  /** One batch, reading A's and B's values (α = 0 and 1). */
  add?(batch: PairBatch): void | Promise<void>;
  /** One batch at one α of needs.alphas (the endpoints included), after add(); θ(α)'s values are readable only during this call. */
  addAt?(batch: PairBatch, alpha: number): void;
  /** A batch of the calibration set (PairSetup.calibrationData) at one α of needs.alphas, before any batch of the data. */
  calibrate?(batch: PairBatch, alpha: number): void;
  /** Work of its own after the shared pass (REPAIR measures and evaluates models of its own), with the run's progress and cancellation. */
  run?(control: RunControl, batchSize: number): Promise<void>;
  /** Its part of the result; `earlier`: the layers' fields the checks before it in the registry filled. */
  result(earlier: readonly Partial<LayerReport>[]): CheckResult;
  /**
   * Its float64 sums over the data, by name (SCIENCE.md §8): a sharded run writes them to its
   * partial, and the reduction adds the partials into a fresh check's before result() (lib/shard/).
   * The live accumulators, so a check gets sharding by listing every sum add() feeds.
   */
  accumulators(): NamedSums;
  release(): Promise<void>;
}

/** Columns a check adds to the printed per-layer table. */
export interface LayerColumns {
  readonly header: readonly string[];
  /** What its abbreviations mean, for the table's title. */
  readonly legend?: string;
  cells(layer: LayerReport): string[];
}

/** A check's part of the HTML page: its sections and their entries in the page's contents. */
export interface HtmlPart {
  readonly nav: readonly (readonly [id: string, label: string])[];
  readonly body: string;
}

/** One line of the registry: a check, its switch, and how its results are shown. */
export interface CheckDefinition {
  readonly id: string;
  /**
   * The analyze option (and CLI flag) that turns the check on or off; its default and validation
   * are the row of lib/options.ts with that name.
   */
  readonly option?: { readonly name: string; readonly description: string };
  /** False when the check has nothing to measure on this pair and data (LMC without labels). */
  applies?(setup: PairSetup): boolean;
  create(setup: PairSetup): Promise<PairCheck>;
  /** Its printed table(s) for one analysis ('' when it has none). */
  text?(analysis: PairAnalysis): string;
  layerColumns?(analysis: PairAnalysis): LayerColumns;
  /** Its HTML sections, null when the report has none of its results. */
  html?(sections: ReportSections, svgs: ReadonlyMap<string, string>): HtmlPart | null;
  /** Its charts, in page order. */
  charts?(sections: ReportSections): (Chart | null)[];
  /** True for the per-layer checks: a report without any of them says how to get them. */
  readonly perLayer: boolean;
}
