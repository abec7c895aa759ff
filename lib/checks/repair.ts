/**
 * The LMC curve after REPAIR (Jordan et al. 2023; SCIENCE.md §6): each θ(α) of the LMC grid
 * repaired (lib/studies/repair.ts) and evaluated on the data. Shared by `lmc` and `analyze` (a
 * check switched on by `repair`, with passes of its own after the shared pass: the repaired
 * models are other models than θ(α)); and how the curve before and after is shown.
 */
import type { Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { COLORS, exact, pct, spec, type Chart } from '../present/charts.js';
import { alphaText, esc, figure, numCell, pctCell, table } from '../present/html.js';
import type { ReportSections } from '../present/sections.js';
import { fixed, formatTable, percent } from '../present/text.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { LmcResult, PairAnalysis, RepairResult } from '../results.js';
import { Repair, REPAIR_EPSILON, repairCheckpoints, type RepairOptions } from '../studies/repair.js';
import type { NamedSums } from '../sums.js';
import type { CheckDefinition, PairCheck, PairSetup } from './check.js';
import { lmcResult, lossSetup, modelLoss } from './loss.js';

/**
 * Loss and accuracy of the repaired θ(α) for every α on `data`. Progress (phase 'repair')
 * counts batches: the endpoints' statistics, each α's statistics passes and its evaluation.
 */
export async function repairedCurve(a: Checkpoint, b: Checkpoint, data: Dataset, alphas: readonly number[], options: RepairOptions & { readonly batchSize: number }): Promise<RepairResult> {
  lossSetup(a, data);
  const { signal, onProgress, batchSize } = options;
  const pair = repairCheckpoints(a, b);
  const set = Repair.statisticsSet(data, options);
  const statisticsBatches = Math.ceil(set.samples / batchSize);
  const total = statisticsBatches * (Repair.endpointPasses(pair) + alphas.length * Repair.passesPerAlpha(pair)) + Math.ceil(data.length / batchSize) * alphas.length;
  let done = 0;
  const tick = (): void => onProgress?.({ phase: 'repair', done: ++done, total });
  const repair = await Repair.create(pair, data, options, tick);
  const theta = new Float32Array(pair.a.arena.length);
  const means: { loss: number; accuracy: number }[] = [];
  for (const alpha of alphas) {
    throwIfAborted(signal);
    await repair.repairedArena(alpha, theta, tick);
    means.push(await modelLoss(pair.a, theta, data, { batchSize, signal, onBatch: tick }));
  }
  const lmc = lmcResult([...alphas], means.map((m) => m.loss), means.map((m) => m.accuracy), data.length, data.length);
  return { form: pair.form, ...repair.statistics, epsilon: REPAIR_EPSILON, layers: repair.layerNames(), lmc };
}

/** The check of analyze: the repaired curve on the LMC grid, measured after the shared pass. */
class RepairCheck implements PairCheck {
  readonly needs = { endpointValues: [], alphas: [], interpolatedValues: [] };
  private repaired: RepairResult | undefined;

  constructor(private readonly setup: PairSetup) {
    lossSetup(setup.a, setup.data);
  }

  add(): void {}

  async run(control: RunControl, batchSize: number): Promise<void> {
    const { a, b, data, lmcAlphas, repairSamples, repairData } = this.setup;
    const { signal, onProgress } = control;
    this.repaired = await repairedCurve(a, b, data, lmcAlphas, {
      batchSize,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(repairSamples !== undefined ? { repairSamples } : {}),
      ...(repairData ? { repairData } : {}),
    });
  }

  result() {
    return this.repaired ? { repair: this.repaired } : {};
  }

  /** REPAIR measures each layer with the earlier ones already corrected, one pass after another: no sums a shard could add up. */
  accumulators(): NamedSums {
    throw new InvalidArgumentError('REPAIR (repair) cannot be sharded: each layer is measured after the earlier ones are corrected, pass after pass over the statistics set; run it without --shard');
  }

  async release(): Promise<void> {}
}

/** The printed curve before and after REPAIR, and the barriers of both. */
export function repairTable(r: RepairResult, plain: LmcResult): string {
  const rows = formatTable(
    ['α', 'loss', 'repaired loss', 'accuracy', 'repaired accuracy'],
    r.lmc.alphas.map((a, i) => [a.toFixed(3), fixed(plain.loss[i]!), fixed(r.lmc.loss[i]!), percent(plain.accuracy[i]!), percent(r.lmc.accuracy[i]!)]),
  );
  const b = r.lmc.barriers;
  const barriers = b ? `repaired barriers: loss ${fixed(b.loss)} · loss vs midpoint ${fixed(b.lossMidpoint)} · accuracy ${percent(b.accuracy)}` : 'repaired barriers: need α = 0 and α = 1';
  return `REPAIR (${formText(r)}; statistics on ${statisticsText(r)})\n${rows}\n${barriers}`;
}

function formText(r: RepairResult): string {
  return r.form === 'batchnorm' ? `BatchNorm statistics reset of ${r.layers.length} BatchNorm layers` : `${r.layers.length} hidden layers corrected, ε = ${r.epsilon}`;
}

function statisticsText(r: RepairResult): string {
  return r.statistics === 'repair' ? `the separate set ${r.source} (${r.samples} samples)` : `the first ${r.samples} samples of the evaluation data ${r.source}`;
}

interface Run {
  readonly name: 'naive' | 'aligned';
  readonly plain: LmcResult;
  readonly repair: RepairResult;
}

function runs(s: ReportSections): Run[] {
  const out: Run[] = [];
  if (s.repair && s.lmc) out.push({ name: 'naive', plain: s.lmc, repair: s.repair });
  if (s.aligned?.repair && s.aligned.lmc) out.push({ name: 'aligned', plain: s.aligned.lmc, repair: s.aligned.repair });
  return out;
}

/** Loss (or accuracy) against α before and after REPAIR, per run: solid as interpolated, dashed repaired. */
function repairChart(s: ReportSections, metric: 'loss' | 'accuracy'): Chart | null {
  const all = runs(s);
  if (all.length === 0) return null;
  const names = all.map((r) => r.name);
  const color = { field: 'run', type: 'nominal', title: null, scale: { domain: names, range: names.map((n) => (n === 'naive' ? COLORS.naive : COLORS.aligned)) }, legend: names.length > 1 ? {} : null };
  const x = { field: 'alpha', type: 'quantitative', title: 'α (weight on B)', scale: { nice: false, padding: 8 }, axis: { tickCount: 5 } };
  const show = (v: number): string => (metric === 'loss' ? exact(v) : `${exact(v)} (${pct(v)})`);
  const points = all.flatMap((r) =>
    r.repair.lmc.alphas.flatMap((alpha, i) => {
      const before = r.plain[metric][i]!;
      const after = r.repair.lmc[metric][i]!;
      return [
        { run: r.name, curve: 'interpolated', alpha, value: before, tip: `${r.name} · α = ${exact(alpha)} · ${metric} ${show(before)}` },
        { run: r.name, curve: 'repaired', alpha, value: after, tip: `${r.name} · α = ${exact(alpha)} · repaired ${metric} ${show(after)}` },
      ];
    }),
  );
  const y = metric === 'loss' ? { field: 'value', type: 'quantitative', title: 'loss (mean cross-entropy)', scale: { zero: false } } : { field: 'value', type: 'quantitative', title: 'accuracy (top-1)', axis: { format: '.0%' }, scale: { zero: false } };
  const title = metric === 'loss' ? 'Loss before and after REPAIR' : 'Accuracy before and after REPAIR';
  const curve = { field: 'curve', type: 'nominal', title: null, sort: ['interpolated', 'repaired'] };
  return {
    id: `repair-${metric}`,
    title,
    spec: spec({
      title: { text: title, subtitle: 'solid: θ(α) as interpolated; dashed: θ(α) after REPAIR' },
      data: { values: points },
      width: 440,
      height: 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 2, aria: false }, encoding: { x, y, color, strokeDash: curve, detail: { field: 'curve' } } },
        { mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y: { field: 'value', type: 'quantitative' }, color, shape: curve, description: { field: 'tip' } } },
      ],
    }),
  };
}

function repairHtml(s: ReportSections, svgs: ReadonlyMap<string, string>): string {
  const all = runs(s);
  const barrierRows = all.flatMap((r) => {
    const before = r.plain.barriers;
    const after = r.repair.lmc.barriers;
    return before && after ? [[`<td>${r.name}</td>`, numCell(before.loss), numCell(after.loss), numCell(before.lossMidpoint), numCell(after.lossMidpoint), pctCell(before.accuracy), pctCell(after.accuracy)]] : [];
  });
  const tables = all.map((r) =>
    table(
      ['α', 'loss', 'repaired loss', 'accuracy', 'repaired accuracy'],
      r.repair.lmc.alphas.map((a, i) => [`<td class="num">${alphaText(a)}</td>`, numCell(r.plain.loss[i]!), numCell(r.repair.lmc.loss[i]!), pctCell(r.plain.accuracy[i]!), pctCell(r.repair.lmc.accuracy[i]!)]),
      { numeric: () => true, ...(all.length > 1 ? { caption: r.name } : {}) },
    ),
  );
  const r = all[0]!.repair;
  const how =
    r.form === 'batchnorm'
      ? `The graph keeps its BatchNorm nodes, so REPAIR is the statistics reset: every BatchNorm's running mean and variance recomputed on θ(α), in graph order (${r.layers.map(esc).join(', ')}).`
      : `Each hidden layer's pre-activation (${r.layers.map(esc).join(', ')}), in graph order, gets per channel the mean and standard deviation interpolated from A's and B's, folded into its weight and bias (ε = ${r.epsilon}).`;
  const where = r.statistics === 'repair' ? `a separate statistics set, <span class="mono">${esc(r.source)}</span> (${r.samples} samples)` : `the first ${r.samples} samples of the evaluation data, which the loss is measured on too: give <code>--repair-data</code> for a separate set`;
  return `<section id="repair">
<h2>REPAIR</h2>
<p class="explain">REPAIR (Jordan et al. 2023) undoes the variance collapse of interpolated networks. ${how} Statistics from ${where}.</p>
<div class="charts">${figure(svgs.get('repair-loss'), 'repair-loss')}${figure(svgs.get('repair-accuracy'), 'repair-accuracy')}</div>
${barrierRows.length > 0 ? table(['', 'loss barrier', 'repaired', 'loss barrier vs midpoint', 'repaired', 'accuracy barrier', 'repaired'], barrierRows, { cls: 'barriers' }) : ''}
<div class="pair">${tables.join('')}</div>
</section>`;
}

export const repairCheck = {
  id: 'repair',
  perLayer: false,
  option: { name: 'repair', description: 'the LMC curve after REPAIR: each θ(α) with its hidden layers’ statistics corrected (Jordan et al. 2023)' } as const,
  applies: (setup) => setup.data.labels !== undefined,
  create: async (setup): Promise<PairCheck> => new RepairCheck(setup),
  text: (analysis: PairAnalysis) => (analysis.repair && analysis.lmc ? repairTable(analysis.repair, analysis.lmc) : ''),
  html: (s, svgs) => (runs(s).length === 0 ? null : { nav: [['repair', 'REPAIR']] as const, body: repairHtml(s, svgs) }),
  charts: (s) => [repairChart(s, 'loss'), repairChart(s, 'accuracy')],
} satisfies CheckDefinition;
