/**
 * Temperature calibration of the LMC curve (Ito et al. 2025; SCIENCE.md §6): each model on the
 * path, the endpoints and every θ(α), gets its own T (lib/checks/temperature.ts), fitted on a
 * separate calibration set when one is given, else on the evaluation data; the calibrated loss
 * curve is the evaluation loss of logits/T(α), and its barriers those of SCIENCE.md §1. Shared by
 * `analyze` (a check of the shared pass, switched on by `calibrate`) and `lmc`.
 */
import { COLORS, exact, spec, type Chart } from '../present/charts.js';
import { alphaText, esc, figure, numCell, table } from '../present/html.js';
import type { ReportSections } from '../present/sections.js';
import { fixed, formatTable } from '../present/text.js';
import type { CalibrationResult, PairAnalysis } from '../results.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { InvalidArgumentError } from '../errors.js';
import type { NamedSums } from '../sums.js';
import { addBatchLoss, lossBarrier, lossSetup, lossSums, midpointLossBarrier, type LossSetup } from './loss.js';
import { calibratedLossSum, calibratedRowLoss, fitTemperature, LogitRows, type Temperature } from './temperature.js';

/** The calibration of one α: T once fitted, and the calibrated loss sums on the evaluation data. */
class AlphaCalibration {
  /** Rows T is fitted on (the calibration set's, or the evaluation data's when there is none). */
  readonly rows: LogitRows;
  private readonly evaluation: LogitRows | undefined;
  private t: Temperature | undefined;
  private mean: number | undefined;
  private readonly sums = { loss: 0, count: 0 };

  constructor(private readonly setup: LossSetup, separate: boolean) {
    this.rows = new LogitRows(setup);
    // Without a separate set, T comes from the evaluation rows themselves: they are kept until the pass ends.
    this.evaluation = separate ? undefined : this.rows;
  }

  /** A batch of the calibration set (logits checked against labels first). */
  addCalibration(logits: Float32Array, labels: Int32Array): void {
    addBatchLoss(lossSums(), this.setup, logits, labels);
    this.rows.add(logits, labels);
  }

  /** A batch of the evaluation data. */
  addEvaluation(logits: Float32Array, labels: Int32Array): void {
    if (this.evaluation) {
      this.evaluation.add(logits, labels);
      return;
    }
    const part = calibratedLossSum(logits, labels, this.setup, this.temperature());
    this.sums.loss += part.loss;
    this.sums.count += part.count;
  }

  temperature(): Temperature {
    if (this.t === undefined) {
      if (this.rows.rows === 0) throw new RangeError('calibration: no labelled rows to fit T on');
      this.t = fitTemperature(this.rows, this.setup.classes);
    }
    return this.t;
  }

  /** The calibrated mean loss on the evaluation data; the kept rows are dropped once it is known. */
  loss(): number {
    if (this.mean === undefined) {
      const t = this.temperature();
      if (this.evaluation) {
        let loss = 0;
        this.evaluation.each((z, o, label) => (loss += calibratedRowLoss(z, o, this.setup.classes, label, t)));
        this.mean = loss / this.evaluation.rows;
      } else {
        this.mean = this.sums.loss / this.sums.count;
      }
      this.rows.clear();
    }
    return this.mean;
  }
}

/** Calibrations along an α grid, and the result they make. */
export class PathCalibration {
  private readonly at: Map<number, AlphaCalibration>;

  /** `calibration`: the separate set's source and length, or undefined to fit on the evaluation data. */
  constructor(
    private readonly alphas: readonly number[],
    setup: LossSetup,
    private readonly calibration: { source: string; length: number } | undefined,
  ) {
    this.at = new Map(alphas.map((x) => [x, new AlphaCalibration(setup, calibration !== undefined)]));
  }

  alpha(x: number): AlphaCalibration {
    return this.at.get(x)!;
  }

  result(evaluationSamples: number): CalibrationResult {
    const alphas = [...this.alphas];
    const loss = alphas.map((x) => this.at.get(x)!.loss());
    const ends = alphas.includes(0) && alphas.includes(1);
    return {
      fittedOn: this.calibration ? 'calibration' : 'evaluation',
      ...(this.calibration ? { source: this.calibration.source } : {}),
      samples: this.calibration ? this.calibration.length : evaluationSamples,
      alphas,
      temperature: alphas.map((x) => this.at.get(x)!.temperature()),
      loss,
      barriers: ends ? { loss: lossBarrier(alphas, loss), lossMidpoint: midpointLossBarrier(alphas, loss) } : null,
    };
  }
}

/** The check of the shared analyze pass: logits of every θ(α) on the LMC grid. */
class Calibration implements PairCheck {
  readonly needs;
  private readonly logits: string;
  private readonly path: PathCalibration;

  constructor(private readonly setup: PairSetup) {
    const loss = lossSetup(setup.a, setup.data);
    this.logits = setup.a.outputs[0]!.name;
    const set = setup.calibrationData;
    if (set) lossSetup(setup.a, set);
    this.path = new PathCalibration(setup.lmcAlphas, loss, set ? { source: set.source, length: set.length } : undefined);
    this.needs = { endpointValues: [], alphas: setup.lmcAlphas, interpolatedValues: [] };
  }

  calibrate(batch: PairBatch, alpha: number): void {
    if (!batch.covers([this.logits])) return;
    this.path.alpha(alpha).addCalibration(batch.value(this.logits, alpha, this.setup.calibrationData!.source).data, batch.labels!);
  }

  addAt(batch: PairBatch, alpha: number): void {
    if (!batch.covers([this.logits])) return;
    this.path.alpha(alpha).addEvaluation(batch.value(this.logits, alpha, this.setup.a.file).data, batch.labels!);
  }

  result() {
    return { calibration: this.path.result(this.setup.data.length) };
  }

  /** T is fitted on all the logits at once (a minimization, not a sum), so the check has no sums to split: --shard refuses --calibrate. */
  accumulators(): NamedSums {
    throw new InvalidArgumentError('the temperature calibration (calibrate) cannot be sharded: T is fitted on all the data at once; run it without --shard');
  }

  async release(): Promise<void> {}
}

/** T as tables print it. */
export function temperatureText(t: Temperature): string {
  return t === 'infinity' ? '∞' : fixed(t);
}

/** The printed calibration table and barriers. */
export function calibrationTable(c: CalibrationResult, raw: readonly number[]): string {
  const rows = formatTable(
    ['α', 'loss', 'calibrated loss', 'T'],
    c.alphas.map((a, i) => [a.toFixed(3), fixed(raw[i]!), fixed(c.loss[i]!), temperatureText(c.temperature[i]!)]),
  );
  const where = c.fittedOn === 'calibration' ? `the calibration set ${c.source} (${c.samples} samples)` : `the evaluation data itself (${c.samples} samples; optimistic)`;
  const barriers = c.barriers ? `calibrated barriers: loss ${fixed(c.barriers.loss)} · loss vs midpoint ${fixed(c.barriers.lossMidpoint)}` : 'calibrated barriers: need α = 0 and α = 1';
  return `Temperature calibration (one T per model, fitted on ${where})\n${rows}\n${barriers}`;
}

interface Run {
  readonly name: 'naive' | 'aligned';
  readonly raw: readonly number[];
  readonly calibration: CalibrationResult;
}

function runs(s: ReportSections): Run[] {
  const out: Run[] = [];
  if (s.calibration && s.lmc) out.push({ name: 'naive', raw: s.lmc.loss, calibration: s.calibration });
  if (s.aligned?.calibration && s.aligned.lmc) out.push({ name: 'aligned', raw: s.aligned.lmc.loss, calibration: s.aligned.calibration });
  return out;
}

function calibrationCharts(s: ReportSections): (Chart | null)[] {
  const all = runs(s);
  if (all.length === 0) return [];
  const color = (name: string): string => (name === 'naive' ? COLORS.naive : COLORS.aligned);
  const names = all.map((r) => r.name);
  const colorScale = { field: 'run', type: 'nominal', title: null, scale: { domain: names, range: names.map(color) }, legend: names.length > 1 ? {} : null };
  const x = { field: 'alpha', type: 'quantitative', title: 'α (weight on B)', scale: { nice: false, padding: 8 }, axis: { tickCount: 5 } };
  const curves = all.flatMap((r) =>
    r.calibration.alphas.flatMap((alpha, i) => [
      { run: r.name, curve: 'raw', alpha, value: r.raw[i]!, tip: `${r.name} · α = ${exact(alpha)} · loss ${exact(r.raw[i]!)}` },
      { run: r.name, curve: 'calibrated', alpha, value: r.calibration.loss[i]!, tip: `${r.name} · α = ${exact(alpha)} · calibrated loss ${exact(r.calibration.loss[i]!)} · T ${String(r.calibration.temperature[i])}` },
    ]),
  );
  const lossChart: Chart = {
    id: 'calibration-loss',
    title: 'Calibrated loss along the linear path',
    spec: spec({
      title: { text: 'Calibrated loss along the linear path', subtitle: 'solid: as measured; dashed: each model with its own temperature' },
      data: { values: curves },
      width: 440,
      height: 260,
      layer: [
        { mark: { type: 'line', strokeWidth: 2, aria: false }, encoding: { x, y: { field: 'value', type: 'quantitative', title: 'loss (mean cross-entropy)', scale: { zero: false } }, color: colorScale, strokeDash: { field: 'curve', type: 'nominal', title: null, sort: ['raw', 'calibrated'] }, detail: { field: 'curve' } } },
        { mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y: { field: 'value', type: 'quantitative' }, color: colorScale, shape: { field: 'curve', type: 'nominal', title: null, sort: ['raw', 'calibrated'] }, description: { field: 'tip' } } },
      ],
    }),
  };
  const finite = all.flatMap((r) =>
    r.calibration.alphas.flatMap((alpha, i) => {
      const t = r.calibration.temperature[i]!;
      return t === 'infinity' ? [] : [{ run: r.name, alpha, value: t, tip: `${r.name} · α = ${exact(alpha)} · T ${exact(t)}` }];
    }),
  );
  const infinite = all.some((r) => r.calibration.temperature.includes('infinity'));
  const tChart: Chart | null =
    finite.length === 0
      ? null
      : {
          id: 'calibration-temperature',
          title: 'Temperature along the linear path',
          spec: spec({
            title: { text: 'Temperature along the linear path', subtitle: infinite ? 'T per model; α where T = ∞ (no finite T helps) are left out' : 'T per model; above 1: the model is overconfident' },
            data: { values: finite },
            width: 440,
            height: 220,
            layer: [
              { mark: { type: 'line', strokeWidth: 2, aria: false }, encoding: { x, y: { field: 'value', type: 'quantitative', title: 'T', scale: { zero: false } }, color: colorScale } },
              { mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y: { field: 'value', type: 'quantitative' }, color: colorScale, description: { field: 'tip' } } },
            ],
          }),
        };
  return [lossChart, tChart];
}

function calibrationHtml(s: ReportSections, svgs: ReadonlyMap<string, string>): string {
  const all = runs(s);
  const tables = all.map((r) =>
    table(
      ['α', 'loss', 'calibrated loss', 'T'],
      r.calibration.alphas.map((a, i) => {
        const t = r.calibration.temperature[i]!;
        return [`<td class="num">${alphaText(a)}</td>`, numCell(r.raw[i]!), numCell(r.calibration.loss[i]!), t === 'infinity' ? '<td class="num" title="no finite T lowers the loss">∞</td>' : numCell(t)];
      }),
      { numeric: () => true, ...(all.length > 1 ? { caption: r.name } : {}) },
    ),
  );
  const barrierRows = all.flatMap((r) => {
    const lmc = r.name === 'naive' ? s.lmc : s.aligned?.lmc;
    const b = r.calibration.barriers;
    return lmc?.barriers && b ? [[`<td>${r.name}</td>`, numCell(lmc.barriers.loss), numCell(b.loss), numCell(lmc.barriers.lossMidpoint), numCell(b.lossMidpoint)]] : [];
  });
  const c = all[0]!.calibration;
  const where = c.fittedOn === 'calibration' ? `on a separate calibration set, <span class="mono">${esc(c.source ?? '')}</span> (${c.samples} samples)` : `on the evaluation data itself (${c.samples} samples), which is optimistic: give <code>--calibration-data</code> for a separate set`;
  return `<section id="calibration">
<h2>Temperature calibration</h2>
<p class="explain">Each model on the path, the endpoints and every θ(α), divides its logits by its own temperature T, the one that minimizes its mean cross-entropy (Ito et al. 2025); T was fitted ${where}. A barrier that shrinks after calibration was partly over- or under-confidence, not worse predictions.</p>
<div class="charts">${figure(svgs.get('calibration-loss'), 'calibration-loss')}${figure(svgs.get('calibration-temperature'), 'calibration-temperature')}</div>
${barrierRows.length > 0 ? table(['', 'loss barrier', 'calibrated', 'loss barrier vs midpoint', 'calibrated'], barrierRows, { cls: 'barriers' }) : ''}
<div class="pair">${tables.join('')}</div>
</section>`;
}

export const calibrationCheck = {
  id: 'calibration',
  perLayer: false,
  option: { name: 'calibrate', description: 'the temperature-calibrated loss curve and barriers (one T per model; Ito et al. 2025)' } as const,
  applies: (setup) => setup.data.labels !== undefined,
  create: async (setup): Promise<PairCheck> => new Calibration(setup),
  text: (analysis: PairAnalysis) => (analysis.calibration && analysis.lmc ? calibrationTable(analysis.calibration, analysis.lmc.loss) : ''),
  html: (s, svgs) => (runs(s).length === 0 ? null : { nav: [['calibration', 'Calibration']] as const, body: calibrationHtml(s, svgs) }),
  charts: calibrationCharts,
} satisfies CheckDefinition;
