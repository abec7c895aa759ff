/**
 * The report of a study over many models (`llfc merge`, `llfc series`): what was given, with
 * which settings, and the results, as JSON (schema: schema/study-report-v1.schema.json; the pair
 * report of `lmc`/`analyze` is report-v1) and as one self-contained HTML page with its charts.
 */
import { COLORS, exact, groupedBars, heatmap, heatText, pct, spec, type Chart } from '../present/charts.js';
import { esc, figure, formatNumber, formatPercent, numCell, pctCell, table } from '../present/html.js';
import type { MergeReport } from '../studies/merge-files.js';
import type { SeriesResult } from '../studies/series.js';
import { baseName, pageHead } from './html.js';
import { reportOrigin, type Report } from './json.js';
import type { ReportPages } from './write.js';

export const STUDY_REPORT_SCHEMA_VERSION = 1;

export interface StudyReport {
  readonly schemaVersion: number;
  readonly kind: 'merge' | 'series';
  readonly tool: Report['tool'];
  readonly createdAt: string;
  /** The checkpoints, in the order given. */
  readonly models: string[];
  /** null when no data was given (a weight-matching merge without evaluation). */
  readonly data: { readonly source: string; readonly samples: number; readonly labels: boolean } | null;
  readonly settings: Readonly<Record<string, unknown>>;
  /** `merge` only: the method, the permutations and the evaluations, and the files written. */
  readonly merge?: MergeReport & { readonly outputs: { readonly onnx: string; readonly safetensors: string } };
  /** `series` only. */
  readonly series?: SeriesResult;
}

export function buildStudyReport(fields: Omit<StudyReport, 'schemaVersion' | 'tool' | 'createdAt'>): StudyReport {
  const { tool, createdAt } = reportOrigin();
  const { kind, ...rest } = fields;
  return { schemaVersion: STUDY_REPORT_SCHEMA_VERSION, kind, tool, createdAt, ...rest };
}

/** Short names for the models: their file names, made unique with their position where they repeat. */
export function modelLabels(models: readonly string[]): string[] {
  const names = models.map(baseName);
  return names.map((n, i) => (names.indexOf(n) !== names.lastIndexOf(n) ? `${i}: ${n}` : n));
}

// ---- charts

/** Accuracy (or loss) of each model and of the merge (and of the repaired merge, with --repair). */
function mergeBars(report: StudyReport, metric: 'accuracy' | 'loss'): Chart | null {
  const evaluation = report.merge?.evaluation;
  if (!evaluation) return null;
  const repaired = report.merge!.repair?.merged;
  const models = modelLabels(report.models);
  const labels = [...models, 'merged', ...(repaired ? ['merged, repaired'] : [])];
  const values = [...evaluation.models, evaluation.merged, ...(repaired ? [repaired] : [])].map((e) => e[metric]);
  const name = metric === 'accuracy' ? 'accuracy (top-1)' : 'loss (mean cross-entropy)';
  const series = (i: number): string => (i < models.length ? 'model' : i === models.length ? 'merged' : 'repaired');
  const rows = labels.map((label, i) => ({ label, series: series(i), value: values[i]!, tip: `${label} · ${metric} ${exact(values[i]!)}${metric === 'accuracy' ? ` (${pct(values[i]!)})` : ''}` }));
  return groupedBars(
    `merge-${metric}`,
    metric === 'accuracy' ? 'Accuracy of each model and the merge' : 'Loss of each model and the merge',
    `${report.merge!.method}, ${report.merge!.match} matching, ${evaluation.samples} samples`,
    labels,
    [
      { name: 'model', color: COLORS.naive },
      { name: 'merged', color: COLORS.aligned },
      ...(repaired ? [{ name: 'repaired', color: COLORS.distH }] : []),
    ],
    rows,
    name,
  );
}

/** The N×N matrix of one barrier as a heatmap. */
function barrierHeatmap(report: StudyReport, key: 'loss' | 'accuracy'): Chart | null {
  const series = report.series;
  if (!series) return null;
  // Rows carry the names, columns the indices: N long names side by side would overlap.
  const labels = modelLabels(series.models).map((l, i) => `${i}: ${l}`);
  const columns = labels.map((_, i) => String(i));
  const matrix = series.matrix[key];
  const top = Math.max(1e-12, ...matrix.flat());
  const name = key === 'loss' ? 'loss barrier' : 'accuracy barrier';
  const cells = matrix.flatMap((row, i) =>
    row.map((value, j) => ({ label: labels[i]!, alpha: columns[j]!, value, text: key === 'loss' ? heatText(value) : `${(100 * value).toFixed(1)}`, tip: `${labels[i]} ↔ ${labels[j]} · ${name} ${exact(value)}` })),
  );
  return heatmap(
    `series-${key}-barrier`,
    key === 'loss' ? 'Loss barrier of every pair' : 'Accuracy barrier of every pair (%)',
    key === 'loss' ? 'max_α L(α) − [(1−α)L(0) + αL(1)]' : 'largest drop below the line between the endpoint accuracies',
    labels,
    columns,
    cells,
    { title: name, scale: { scheme: 'orangered', domain: [0, top], clamp: true }, legend: { orient: 'right', direction: 'vertical', gradientLength: Math.min(180, Math.max(60, 24 * labels.length)) } },
    `datum.value > ${0.55 * top}`,
    'checkpoint',
  );
}

/** Barrier of each pair of children against the split step, with the mean per step. */
function instabilityChart(report: StudyReport, key: 'loss' | 'accuracy'): Chart | null {
  const points = report.series?.instability ?? [];
  if (points.length === 0) return null;
  const labels = modelLabels(report.series!.models);
  const name = key === 'loss' ? 'loss barrier' : 'accuracy barrier';
  const pairs = points.flatMap((p) => p.pairs.map(([i, j], q) => ({ step: p.step, value: p[key][q]!, tip: `k = ${p.step} · ${labels[i]} ↔ ${labels[j]} · ${name} ${exact(p[key][q]!)}` })));
  const means = points.map((p) => ({ step: p.step, value: key === 'loss' ? p.meanLoss : p.meanAccuracy }));
  const x = { field: 'step', type: 'quantitative', title: 'split step k', axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'value', type: 'quantitative', title: name, ...(key === 'accuracy' ? { axis: { format: '.1%' } } : {}) };
  return {
    id: `instability-${key}`,
    title: `Instability: ${name} against the split step`,
    spec: spec({
      title: { text: `Instability: ${name} against the split step`, subtitle: 'points: each pair of children spawned at k; line: their mean' },
      width: 400,
      height: 220,
      layer: [
        { data: { values: means }, mark: { type: 'line', color: COLORS.aligned, strokeWidth: 2, aria: false }, encoding: { x, y } },
        { data: { values: pairs }, mark: { type: 'point', filled: true, color: COLORS.naive, size: 55 }, encoding: { x, y, description: { field: 'tip' } } },
      ],
    }),
  };
}

export function studyCharts(report: StudyReport): Chart[] {
  return [mergeBars(report, 'accuracy'), mergeBars(report, 'loss'), barrierHeatmap(report, 'loss'), barrierHeatmap(report, 'accuracy'), instabilityChart(report, 'loss'), instabilityChart(report, 'accuracy')].filter((c): c is Chart => c !== null);
}

// ---- page

function mergeSection(report: StudyReport, svgs: Map<string, string>): string {
  const m = report.merge;
  if (!m) return '';
  const labels = modelLabels(report.models);
  const moved = (p: number[]): number => p.reduce((n, v, i) => n + (v !== i ? 1 : 0), 0);
  const evaluation = m.evaluation;
  const rows = labels.map((label, i) => [
    `<td class="mono" title="${esc(report.models[i]!)}">${esc(label)}</td>`,
    `<td class="num">${formatNumber(m.weights[i]!)}</td>`,
    ...m.permutations[i]!.map((p) => `<td class="num">${moved(p)}</td>`),
    ...(evaluation ? [numCell(evaluation.models[i]!.loss), pctCell(evaluation.models[i]!.accuracy)] : []),
  ]);
  if (evaluation) rows.push(['<td><b>merged</b></td>', '<td class="num">1</td>', ...m.groups.map(() => '<td></td>'), numCell(evaluation.merged.loss), pctCell(evaluation.merged.accuracy)]);
  const r = m.repair;
  if (r?.merged) rows.push(['<td><b>merged, repaired</b></td>', '<td class="num">1</td>', ...m.groups.map(() => '<td></td>'), numCell(r.merged.loss), pctCell(r.merged.accuracy)]);
  const repair = r
    ? `<p class="note">REPAIR of the merge (Jordan et al. 2023, for N models): ${
        r.form === 'batchnorm' ? `the running statistics of ${r.layers.length} BatchNorm layers recomputed on the merge` : `${r.layers.length} hidden layers corrected to Σ<sub>i</sub> w<sub>i</sub>μ<sub>i</sub>, Σ<sub>i</sub> w<sub>i</sub>σ̃<sub>i</sub> of the permuted models (ε = ${r.epsilon})`
      }; statistics on ${r.statistics === 'repair' ? `the separate set <span class="mono">${esc(r.source)}</span>` : `the first samples of the evaluation data <span class="mono">${esc(r.source)}</span>`} (${r.samples} samples). The files written are the repaired merge.</p>`
    : '';
  const head = ['model', 'weight', ...m.groups.map((g) => `units moved, ${esc(g.label)} (${g.size})`), ...(evaluation ? ['loss', 'accuracy'] : [])];
  const method = m.method === 'mergemany' ? 'MergeMany (Ainsworth et al. 2023, Alg. 3)' : m.method === 'tree' ? 'hierarchical binary tree (Franke et al. 2025)' : 'plain mean, no alignment';
  const course = m.rounds
    ? `<p class="note">${m.rounds.length} round${m.rounds.length === 1 ? '' : 's'} (${m.converged ? 'converged: the last changed no permutation' : 'stopped at the round limit'}); permutations changed per round: ${m.rounds.map((r) => r.changed).join(', ')}.</p>`
    : m.levels
      ? `<p class="note">Levels: ${m.levels.map((level, k) => `${k + 1}: ${level.map(([a, b]) => `[${a!.join(',')}]←[${b!.join(',')}]`).join(' ')}`).join('; ')} (model indices; the right side is matched to the left).</p>`
      : '';
  const charts = ['merge-accuracy', 'merge-loss'].map((id) => figure(svgs.get(id), id)).join('');
  return `<section id="merge">
<h2>Merge</h2>
<p class="explain">${esc(method)}, ${m.match} matching, seed ${m.seed}. Objective Σ<sub>i&lt;j</sub> ⟨π<sub>i</sub>(θ<sub>i</sub>), π<sub>j</sub>(θ<sub>j</sub>)⟩: <span title="${esc(String(m.objective))}">${formatNumber(m.objective)}</span> (at the identities: <span title="${esc(String(m.initialObjective))}">${formatNumber(m.initialObjective)}</span>). The full permutations are in the JSON report.</p>
${course}
${repair}
${table(head, rows, { caption: `${report.models.length} models${evaluation ? `, ${evaluation.samples} samples` : ', not evaluated (no labelled data)'}` })}
${charts ? `<div class="charts">${charts}</div>` : ''}
<p class="note">Written: <span class="mono">${esc(m.outputs.onnx)}</span> and <span class="mono">${esc(m.outputs.safetensors)}</span>.</p>
</section>`;
}

function seriesSection(report: StudyReport, svgs: Map<string, string>): string {
  const s = report.series;
  if (!s) return '';
  const labels = modelLabels(s.models);
  const endpoints = table(
    ['checkpoint', 'split step', 'loss', 'accuracy'],
    labels.map((label, i) => [`<td class="mono" title="${esc(s.models[i]!)}">${esc(label)}</td>`, `<td class="num">${s.steps[i] ?? '—'}</td>`, numCell(s.endpoints[i]!.loss), pctCell(s.endpoints[i]!.accuracy)]),
    { caption: `${s.models.length} checkpoints, ${s.samples} samples; split steps from ${s.stepSource === 'manifest' ? 'the manifest' : 'the file names'}` },
  );
  const instability =
    s.instability.length > 0
      ? table(
          ['split step k', 'pairs', 'mean loss barrier', 'mean accuracy barrier'],
          s.instability.map((p) => [`<td class="num">${p.step}</td>`, `<td class="num">${p.pairs.length}</td>`, numCell(p.meanLoss), pctCell(p.meanAccuracy)]),
          { caption: 'instability: barriers of the children of each split step' },
        )
      : '<p class="note">No instability curve: no two checkpoints share a split step (name files <code>…_k500_…</code> or give <code>--manifest</code>).</p>';
  const figs = (ids: string[]): string => ids.map((id) => figure(svgs.get(id), id)).join('');
  return `<section id="series">
<h2>Checkpoint series</h2>
<p class="explain">The LMC barriers of every pair of checkpoints (SCIENCE.md §1, α on a grid of ${s.pairs[0]?.lmc.alphas.length ?? 0} points), and for spawned children (Frankle et al. 2020) the barriers of the pairs spawned at each split step.</p>
<div class="charts">${figs(['series-loss-barrier', 'series-accuracy-barrier'])}</div>
<div class="charts">${figs(['instability-loss', 'instability-accuracy'])}</div>
<div class="pair">${endpoints}${instability}</div>
</section>`;
}

function runSection(report: StudyReport): string {
  const row = (k: string, v: string): string => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`;
  const rows = [
    ...report.models.map((m, i) => row(`model ${i}`, `<span class="mono">${esc(m)}</span>`)),
    row('data', report.data ? `<span class="mono">${esc(report.data.source)}</span>, ${report.data.samples} samples${report.data.labels ? ' with labels' : ''}` : 'none'),
    ...Object.entries(report.settings).map(([k, v]) => row(k, `<span class="mono">${esc(JSON.stringify(v))}</span>`)),
    row(report.tool.name, `<span class="mono">${esc(report.tool.version)}</span> (onnxruntime ${esc(report.tool.onnxruntime)}, Node.js ${esc(report.tool.node)})`),
    row('report schema', `<span class="mono">study ${report.schemaVersion}</span>`),
    row('created', `<span class="mono">${esc(report.createdAt)}</span>`),
  ];
  return `<section id="settings"><h2>Run</h2><div class="table-wrap"><table class="kv"><tbody>${rows.join('')}</tbody></table></div></section>`;
}

/** The report as one self-contained HTML page (charts rendered to inline SVG; no script). */
export async function renderStudyHtml(report: StudyReport): Promise<string> {
  const { renderSvg } = await import('./charts.js');
  const svgs = new Map<string, string>();
  for (const chart of studyCharts(report)) svgs.set(chart.id, await renderSvg(chart.spec, `${chart.id}-`));
  const title = report.kind === 'merge' ? `merge of ${report.models.length} models` : `series of ${report.models.length} checkpoints`;
  const best = report.merge?.evaluation ? ` · merged accuracy ${formatPercent(report.merge.evaluation.merged.accuracy)}` : '';
  return `${pageHead(report.tool, title)}
<h1>${esc(title)}</h1>
<div class="meta"><span>${esc(report.data ? `${report.data.samples} samples of ${baseName(report.data.source)}` : 'no data')}${esc(best)}</span><span>${esc(report.tool.name)} ${esc(report.tool.version)}</span></div>
</div></header>
<main><div class="wrap">
${mergeSection(report, svgs)}
${seriesSection(report, svgs)}
${runSection(report)}
</div></main>
<footer>Made by ${esc(report.tool.name)} ${esc(report.tool.version)}. Hover a mark in a chart or a number in a table for its exact value. Definitions: <code>docs/definitions.md</code> in the llfc package.</footer>
</body>
</html>
`;
}

/** How `publishReport` shows a study report. */
export const STUDY_PAGES: ReportPages<StudyReport> = { html: renderStudyHtml, charts: async (report) => studyCharts(report) };
