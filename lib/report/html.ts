/**
 * The HTML report: one self-contained file (inline CSS and SVG charts, no script, no fonts or
 * anything else fetched when it is opened) with the LMC curves and barriers, the per-layer
 * LLFC, weak additivity, commutativity and scale coefficients, the permutation spec when the
 * pair was aligned, and the run's settings and versions. Definitions: docs/definitions.md.
 */
import type { LmcResult } from '../checks/lmc.js';
import {
  alphaNearestHalf,
  layerAlphas,
  layerLabels,
  linearLabels,
  renderSvg,
  reportCharts,
  reportSections,
  type Chart,
  type ReportSections,
} from './charts.js';
import type { Report } from './json.js';
import type { AlignedAnalysis, CommutativityReport, LayerReport } from './types.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const esc = escapeHtml;

/** A number for tables: `digits` decimals, scientific below 1e-3 (0 below 1e-12). */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '∞' : '−∞';
  // Below 1e-12 is float64 rounding noise for these quantities (a distance at α = 0): show 0.
  if (Math.abs(x) < 1e-12) x = 0;
  if (x !== 0 && Math.abs(x) < 10 ** -Math.min(digits, 3)) return x.toExponential(2).replace('-', '−');
  return x.toFixed(digits).replace(/^-/, '−');
}

export function formatPercent(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : formatNumber(x);
}

/** A numeric table cell whose title holds the exact value. */
const numCell = (x: number, digits = 4): string => `<td class="num" title="${esc(String(x))}">${formatNumber(x, digits)}</td>`;
const pctCell = (x: number): string => `<td class="num" title="${esc(String(x))}">${formatPercent(x)}</td>`;
const alphaText = (a: number): string => String(Number(a.toFixed(4)));

/** The name of a file, for headings (full paths stay in the settings table). */
function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** A table; `numeric(i)` says which columns hold numbers (right aligned; default all but the first). */
function table(head: string[], rows: string[][], options: { caption?: string; numeric?: (column: number) => boolean; cls?: string } = {}): string {
  const numeric = options.numeric ?? ((i: number) => i > 0);
  const th = head.map((h, i) => `<th${numeric(i) ? ' class="num"' : ''}>${h}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.join('')}</tr>`).join('\n');
  const caption = options.caption ? `<caption>${options.caption}</caption>` : '';
  return `<div class="table-wrap"><table${options.cls ? ` class="${options.cls}"` : ''}>${caption}<thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function layerNameCell(label: string, layer: { name: string; module: string | null; op: string }): string {
  const sub = layer.module ? `<span class="sub mono">${esc(layer.name)}</span>` : '';
  return `<td class="layer"><span class="name${layer.module ? '' : ' mono'}">${esc(label)}</span>${sub}</td>`;
}

function opCell(op: string, kind?: string): string {
  return `<td${kind ? ` title="${esc(kind)}"` : ''}><span class="op">${esc(op)}</span>${kind === 'logits' ? ' <span class="kind">logits</span>' : ''}</td>`;
}

function figure(svg: string | undefined, id: string): string {
  if (!svg) return '';
  return `<figure class="chart" id="chart-${esc(id)}" data-chart="${esc(id)}">${svg}</figure>`;
}

// ---------------------------------------------------------------------------------------------
// Sections

function barrierCards(s: ReportSections): string {
  const runs: { name: string; lmc: LmcResult }[] = [];
  if (s.lmc) runs.push({ name: 'naive', lmc: s.lmc });
  if (s.aligned?.lmc) runs.push({ name: 'aligned', lmc: s.aligned.lmc });
  if (runs.length === 0) return '';
  const card = (title: string, value: (l: LmcResult) => string | null, note: string): string => {
    const lines = runs.map((r) => {
      const v = value(r.lmc);
      return `<div class="card-value ${r.name}">${v ?? '—'}${runs.length > 1 ? `<span class="tag ${r.name}">${r.name}</span>` : ''}</div>`;
    });
    return `<div class="card"><div class="card-title">${title}</div>${lines.join('')}<div class="card-note">${note}</div></div>`;
  };
  // A permuted B computes what B computes, so the endpoints are the naive run's.
  const endpoints = runs[0]!.lmc;
  const endRow = (name: string, alpha: number): string => {
    const k = endpoints.alphas.indexOf(alpha);
    return k < 0
      ? `<tr><th>${name}</th><td colspan="2">—</td></tr>`
      : `<tr><th>${name}</th><td class="num" title="${esc(String(endpoints.loss[k]))}">${formatNumber(endpoints.loss[k]!)}</td><td class="num" title="${esc(String(endpoints.accuracy[k]))}">${formatPercent(endpoints.accuracy[k]!)}</td></tr>`;
  };
  const endCard = `<div class="card"><div class="card-title">Endpoints</div><table class="ends"><thead><tr><th></th><th class="num">loss</th><th class="num">accuracy</th></tr></thead><tbody>${endRow('A', 0)}${endRow('B', 1)}</tbody></table><div class="card-note">${endpoints.samples} samples</div></div>`;
  return `<div class="cards">
${card('Loss barrier', (l) => (l.barriers ? formatNumber(l.barriers.loss) : null), 'max<sub>α</sub> L(α) − [(1−α)L(0) + αL(1)]')}
${card('Loss barrier vs midpoint', (l) => (l.barriers ? formatNumber(l.barriers.lossMidpoint) : null), 'max<sub>α</sub> L(α) − ½[L(0) + L(1)]')}
${card('Accuracy barrier', (l) => (l.barriers ? formatPercent(l.barriers.accuracy) : null), 'largest drop below the line between the endpoint accuracies')}
${endCard}
</div>`;
}

function lmcTable(lmc: LmcResult, aligned: LmcResult | null): string {
  const same = aligned && aligned.alphas.length === lmc.alphas.length && aligned.alphas.every((a, i) => a === lmc.alphas[i]);
  if (same) {
    return table(
      ['α', 'loss, naive', 'accuracy, naive', 'loss, aligned', 'accuracy, aligned'],
      lmc.alphas.map((a, i) => [`<td class="num">${alphaText(a)}</td>`, numCell(lmc.loss[i]!), pctCell(lmc.accuracy[i]!), numCell(aligned.loss[i]!), pctCell(aligned.accuracy[i]!)]),
      { numeric: () => true, cls: 'lmc' },
    );
  }
  const one = (l: LmcResult, caption?: string): string =>
    table(['α', 'loss', 'accuracy'], l.alphas.map((a, i) => [`<td class="num">${alphaText(a)}</td>`, numCell(l.loss[i]!), pctCell(l.accuracy[i]!)]), { numeric: () => true, cls: 'lmc', ...(caption ? { caption } : {}) });
  return aligned ? `<div class="pair">${one(lmc, 'naive')}${one(aligned, 'aligned')}</div>` : one(lmc);
}

function barrierTable(s: ReportSections): string {
  const runs: [string, LmcResult][] = [];
  if (s.lmc) runs.push(['naive', s.lmc]);
  if (s.aligned?.lmc) runs.push(['aligned', s.aligned.lmc]);
  const rows = runs.map(([name, l]) =>
    l.barriers
      ? [`<td>${name}</td>`, numCell(l.barriers.loss), numCell(l.barriers.lossMidpoint), pctCell(l.barriers.accuracy), `<td class="num">${l.samples}</td>`]
      : [`<td>${name}</td>`, '<td class="num" colspan="3">barriers need α = 0 and α = 1</td>', `<td class="num">${l.samples}</td>`],
  );
  return table(['', 'loss barrier', 'loss barrier vs midpoint', 'accuracy barrier', 'samples'], rows, { cls: 'barriers' });
}

function lmcSection(s: ReportSections, svgs: Map<string, string>): string {
  if (!s.lmc && !s.aligned?.lmc) {
    return `<section id="lmc"><h2>Linear mode connectivity</h2><p class="note">Not measured: the data has no labels. The per-layer checks below do not need them.</p></section>`;
  }
  const lmc = s.lmc ?? s.aligned!.lmc!;
  return `<section id="lmc">
<h2>Linear mode connectivity</h2>
<p class="explain">Loss and top-1 accuracy of the interpolated weights θ(α) = (1−α)·θ<sub>A</sub> + α·θ<sub>B</sub>${s.aligned?.lmc ? ', before (naive) and after permuting B onto A (aligned)' : ''}; A and B are linearly connected when the barrier, the bump above the straight line between the endpoints, is ≈ 0.</p>
<div class="charts">${figure(svgs.get('lmc-loss'), 'lmc-loss')}${figure(svgs.get('lmc-accuracy'), 'lmc-accuracy')}</div>
<h3>Barriers</h3>
${barrierTable(s)}
<h3>Loss and accuracy per α</h3>
${s.lmc ? lmcTable(s.lmc, s.aligned?.lmc ?? null) : lmcTable(lmc, null)}
</section>`;
}

function llfcTable(layers: readonly LayerReport[], caption?: string): string {
  const alphas = layerAlphas(layers);
  const labels = layerLabels(layers);
  const rows = layers.map((l, i) => [
    layerNameCell(labels[i]!, l),
    opCell(l.op, l.kind),
    numCell(l.baseline),
    ...alphas.map((a) => {
      const p = l.llfc.find((q) => q.alpha === a);
      if (!p) return '<td class="num">—</td>';
      const ratio = l.baseline > 0 ? p.distance / l.baseline : NaN;
      return `<td class="num" title="distance ${esc(String(p.distance))} ± ${esc(String(p.distanceStd))}; ${esc(String(ratio))} of the baseline${p.skipped ? `; ${p.skipped} samples skipped` : ''}">${formatNumber(p.distance)} <span class="pm">± ${formatNumber(p.distanceStd, 3)}</span></td>`;
    }),
  ]);
  return table(['layer', 'op', 'baseline d(f<sub>A</sub>, f<sub>B</sub>)', ...alphas.map((a) => `α = ${alphaText(a)}`)], rows, { numeric: (i) => i > 1, ...(caption ? { caption } : {}) });
}

function coefficientTable(layers: readonly LayerReport[], caption?: string): string {
  const alphas = layerAlphas(layers);
  const labels = layerLabels(layers);
  const rows = layers.map((l, i) => [
    layerNameCell(labels[i]!, l),
    ...alphas.map((a) => {
      const p = l.llfc.find((q) => q.alpha === a);
      return p ? numCell(p.coefficient) : '<td class="num">—</td>';
    }),
    `<td class="num">${l.llfc.reduce((n, p) => n + p.skipped, 0) + l.baselineSkipped}</td>`,
  ]);
  return table(['layer', ...alphas.map((a) => `α = ${alphaText(a)}`), 'samples skipped'], rows, caption ? { caption } : {});
}

function weakAdditivityTable(layers: readonly LayerReport[], caption?: string): string {
  const acts = layers.filter((l) => l.weakAdditivity && l.weakAdditivity.length > 0);
  const alphas = [...new Set(acts.flatMap((l) => l.weakAdditivity!.map((p) => p.alpha)))].sort((x, y) => x - y);
  const labels = layerLabels(acts);
  const rows = acts.map((l, i) => [
    layerNameCell(labels[i]!, l),
    opCell(l.op),
    l.weakAdditivityBaseline !== undefined ? numCell(l.weakAdditivityBaseline) : '<td class="num">—</td>',
    ...alphas.map((a) => {
      const p = l.weakAdditivity!.find((q) => q.alpha === a);
      return p ? numCell(p.distance) : '<td class="num">—</td>';
    }),
  ]);
  return table(['activation', 'op', 'baseline d(σ(h̃<sub>A</sub>), σ(h̃<sub>B</sub>))', ...alphas.map((a) => `α = ${alphaText(a)}`)], rows, { numeric: (i) => i > 1, ...(caption ? { caption } : {}) });
}

function commutativityTable(rows: readonly CommutativityReport[], caption?: string): string {
  const labels = linearLabels(rows);
  return table(
    ['linear layer', 'op', 'dist<sub>com</sub>', 'dist<sub>W</sub>', 'dist<sub>H</sub>'],
    rows.map((c, i) => [
      `<td class="layer"><span class="name${c.module ? '' : ' mono'}">${esc(labels[i]!)}</span><span class="sub mono">${esc(c.weight)}</span></td>`,
      opCell(c.op),
      numCell(c.distCom),
      numCell(c.distW),
      numCell(c.distH),
    ]),
    { numeric: (i) => i > 1, ...(caption ? { caption } : {}) },
  );
}

/** Tables for the naive analysis and, when present, the aligned one. */
function both<T>(naive: T, aligned: T | undefined, render: (x: T, caption?: string) => string): string {
  return aligned === undefined ? render(naive) : `${render(naive, 'naive')}${render(aligned, 'aligned')}`;
}

function layerSections(s: ReportSections, svgs: Map<string, string>): string {
  if (s.layers.length === 0 && s.commutativity.length === 0) {
    return `<section id="layers"><h2>Per-layer checks</h2><p class="note">Not in this report: <code>llfc analyze</code> measures layerwise linear feature connectivity (LLFC), weak additivity and commutativity layer by layer.</p></section>`;
  }
  const aligned: AlignedAnalysis | undefined = s.aligned ?? undefined;
  const half = alphaNearestHalf(layerAlphas(s.layers));
  const out: string[] = [];
  if (s.layers.length > 0) {
    out.push(`<section id="llfc">
<h2>Layerwise linear feature connectivity</h2>
<p class="explain">Cosine distance d(f<sup>(ℓ)</sup>(θ(α)), (1−α)·f<sup>(ℓ)</sup><sub>A</sub> + α·f<sup>(ℓ)</sup><sub>B</sub>) between the features of the interpolated model and the interpolation of the endpoint features, averaged over samples; LLFC holds at a layer when it is far below the baseline d(f<sub>A</sub>, f<sub>B</sub>).</p>
<div class="charts">${figure(svgs.get('llfc-heatmap'), 'llfc-heatmap')}${figure(svgs.get('llfc-heatmap-aligned'), 'llfc-heatmap-aligned')}${figure(svgs.get('llfc-bars'), 'llfc-bars')}</div>
<h3>LLFC distance (mean ± std over samples) per α</h3>
${both(s.layers, aligned?.layers, llfcTable)}
</section>
<section id="coefficient">
<h2>Scale coefficient</h2>
<p class="explain">LLFC allows c·f<sup>(ℓ)</sup>(θ(α)) = (1−α)·f<sup>(ℓ)</sup><sub>A</sub> + α·f<sup>(ℓ)</sup><sub>B</sub> for some c &gt; 0; the mean over samples of ⟨a, m⟩ / ‖m‖² estimates 1/c (≈ 1 in practice).</p>
<div class="charts">${figure(svgs.get('scale-coefficient'), 'scale-coefficient')}${figure(svgs.get('scale-coefficient-aligned'), 'scale-coefficient-aligned')}</div>
<h3>Scale coefficient per α</h3>
${both(s.layers, aligned?.layers, coefficientTable)}
</section>`);
    if (s.layers.some((l) => l.weakAdditivity && l.weakAdditivity.length > 0)) {
      out.push(`<section id="weak-additivity">
<h2>Weak additivity of the activations</h2>
<p class="explain">For each activation σ, the cosine distance between σ((1−α)·h̃<sub>A</sub> + α·h̃<sub>B</sub>) and (1−α)·σ(h̃<sub>A</sub>) + α·σ(h̃<sub>B</sub>), with h̃<sub>A</sub>, h̃<sub>B</sub> its inputs in A and in B; small against the baseline d(σ(h̃<sub>A</sub>), σ(h̃<sub>B</sub>)) means the activation is weakly additive${half !== null ? ` (the chart shows α = ${alphaText(half)})` : ''}.</p>
<div class="charts">${figure(svgs.get('weak-additivity'), 'weak-additivity')}</div>
<h3>Weak additivity distance per α</h3>
${both(s.layers, aligned?.layers, weakAdditivityTable)}
</section>`);
    }
  }
  if (s.commutativity.length > 0) {
    out.push(`<section id="commutativity">
<h2>Commutativity</h2>
<p class="explain">For each linear layer (Gemm, MatMul, Conv; bias excluded), dist<sub>com</sub> = ‖X − Y‖²<sub>F</sub> / (‖X‖<sub>F</sub>‖Y‖<sub>F</sub>) with X = W<sub>A</sub>H<sub>A</sub> + W<sub>B</sub>H<sub>B</sub> and Y = W<sub>A</sub>H<sub>B</sub> + W<sub>B</sub>H<sub>A</sub>, against the baselines dist<sub>W</sub> and dist<sub>H</sub>; weak additivity plus commutativity at every layer imply LLFC with c = 1 (Zhou et al. 2023).</p>
<div class="charts">${figure(svgs.get('commutativity'), 'commutativity')}${figure(svgs.get('commutativity-aligned'), 'commutativity-aligned')}</div>
<h3>Commutativity per linear layer</h3>
${both(s.commutativity, aligned && aligned.commutativity.length > 0 ? aligned.commutativity : undefined, commutativityTable)}
</section>`);
  }
  return out.join('\n');
}

function alignmentSection(s: ReportSections, svgs: Map<string, string>): string {
  const a = s.aligned;
  if (!a) return '';
  const method = a.method === 'weight' ? 'weight matching' : 'activation matching';
  const groups = table(
    ['group', 'size (units)', 'tensor axes'],
    a.spec.groups.map((g) => [`<td class="mono">${esc(g.name)}</td>`, `<td class="num">${g.size}</td>`, `<td class="num">${g.tensors}</td>`]),
    { caption: `${a.spec.groups.length} permutation group${a.spec.groups.length === 1 ? '' : 's'}` },
  );
  const fixed =
    a.spec.fixed.length > 0
      ? table(
          ['tensor', 'axis', 'why it is not permuted'],
          a.spec.fixed.map((f) => [`<td class="mono">${esc(f.tensor)}</td>`, `<td class="num">${f.axis}</td>`, `<td>${esc(f.reason)}</td>`]),
          { caption: `${a.spec.fixed.length} fixed ${a.spec.fixed.length === 1 ? 'axis' : 'axes'}`, numeric: (i) => i === 1 },
        )
      : '';
  const objective = a.objective && a.objective.length > 0 ? `<div class="charts">${figure(svgs.get('alignment-objective'), 'alignment-objective')}</div>` : '';
  return `<section id="alignment">
<h2>Permutation alignment</h2>
<p class="explain">B's hidden units were permuted onto A's by ${method} (Git Re-Basin), which leaves B's function unchanged; the spec, inferred from the ONNX graph, lists each permutation group and the tensor axes it acts on, and the axes that stay fixed.</p>
<div class="pair">${groups}${fixed}</div>
${objective}
</section>`;
}

function settingValue(value: unknown): string {
  if (typeof value === 'string') return esc(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return `<span class="mono">${esc(String(value))}</span>`;
  return `<span class="mono">${esc(JSON.stringify(value))}</span>`;
}

function settingsSection(report: Report, s: ReportSections): string {
  const row = (k: string, v: string): string => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`;
  const rows: string[] = [
    row('model A (α = 0)', `<span class="mono">${esc(report.models.a)}</span>`),
    row('model B (α = 1)', `<span class="mono">${esc(report.models.b)}</span>`),
    row('data', `<span class="mono">${esc(report.data.source)}</span>`),
    row('samples', `${report.data.samples}${report.data.labels ? ' (with labels)' : ' (no labels)'}`),
  ];
  if (report.foldedBatchNorm) {
    const n = report.foldedBatchNorm.convs.length;
    rows.push(row('BatchNorm', `folded into ${n} convolution${n === 1 ? '' : 's'} (an eval-mode export): θ(α) interpolates the folded weights, not the PyTorch state_dicts; export with <code>training=torch.onnx.TrainingMode.PRESERVE</code> to keep BatchNorm`));
  }
  const r = report as { samples?: unknown };
  if (typeof r.samples === 'number') rows.push(row('samples for the per-layer checks', String(r.samples)));
  if (s.alphas.length > 0) rows.push(row('α of the per-layer checks', s.alphas.map(alphaText).join(', ')));
  if (s.aligned) rows.push(row('alignment', s.aligned.method === 'weight' ? 'weight matching' : 'activation matching'));
  for (const [k, v] of Object.entries(report.settings)) rows.push(row(k, settingValue(v)));
  const tool = report.tool;
  const versions = [
    row(tool.name, `<span class="mono">${esc(tool.version)}</span>`),
    row('onnxruntime', `<span class="mono">${esc(tool.onnxruntime)}</span>`),
    row('Node.js', `<span class="mono">${esc(tool.node)}</span>`),
    row('report schema', `<span class="mono">${esc(String(report.schemaVersion))}</span>`),
    row('created', `<span class="mono">${esc(report.createdAt)}</span>`),
  ];
  return `<section id="settings">
<h2>Run</h2>
<div class="pair"><div class="table-wrap wide"><table class="kv"><caption>inputs and settings</caption><tbody>${rows.join('')}</tbody></table></div>
<div class="table-wrap"><table class="kv"><caption>versions</caption><tbody>${versions.join('')}</tbody></table></div></div>
</section>`;
}

const CSS = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1f2328;--muted:#59636e;--line:#e3e6ea;--soft:#f7f8fa;--naive:#e8730c;--aligned:#2f6db5;
--sans:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue','DejaVu Sans',Arial,sans-serif;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 var(--sans);-webkit-font-smoothing:antialiased}
header.top{background:linear-gradient(135deg,#1d2b3a,#2b4462);color:#fff;padding:28px 0 22px}
.wrap{max-width:1200px;margin:0 auto;padding:0 24px}
header.top h1{margin:0 0 6px;font-size:24px;font-weight:650;letter-spacing:-.01em}
header.top h1 .vs{opacity:.6;font-weight:400;margin:0 .35em}
header.top .meta{color:#c9d4e1;font-size:13.5px}
header.top .meta span+span::before{content:"·";margin:0 .55em;opacity:.7}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.94);backdrop-filter:blur(6px);border-bottom:1px solid var(--line)}
nav.toc .wrap{display:flex;gap:4px;flex-wrap:wrap;padding-top:8px;padding-bottom:8px}
nav.toc a{color:var(--muted);text-decoration:none;font-size:13.5px;padding:4px 10px;border-radius:6px}
nav.toc a:hover{background:var(--soft);color:var(--ink)}
main{padding:24px 0 40px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:14px;margin-bottom:22px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.card-title{font-size:12.5px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600;margin-bottom:4px}
.card-value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.3}
.card-value .tag{font-size:11px;font-weight:600;vertical-align:middle;margin-left:8px;padding:1px 7px;border-radius:10px;color:#fff}
.tag.naive{background:var(--naive)}.tag.aligned{background:var(--aligned)}
.ends{min-width:0;width:100%;font-size:15px;margin-top:2px}.ends th,.ends td{padding:3px 6px;border:0;background:none}.ends thead th{font-size:12px;border:0;background:none}.ends tbody th{color:var(--muted);font-weight:600}
.card-note{font-size:12px;color:var(--muted);margin-top:6px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:22px 24px 18px;margin-bottom:22px;scroll-margin-top:56px}
h2{font-size:19px;margin:0 0 6px;font-weight:650;letter-spacing:-.005em}
h3{font-size:15px;margin:24px 0 8px;color:#3d444d;font-weight:600}
p.explain{margin:0 0 14px;color:var(--muted);max-width:880px}
p.note{margin:4px 0;color:var(--muted)}
code{font-family:var(--mono);font-size:.92em;background:var(--soft);padding:1px 5px;border-radius:4px}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin:6px 0}
figure.chart{margin:0;background:#fff;border:1px solid var(--line);border-radius:10px;padding:6px;max-width:100%;overflow-x:auto}
figure.chart svg{display:block;max-width:100%;height:auto}
figure.chart svg [aria-label]:hover{opacity:.8}
.pair{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.pair>.table-wrap{flex:1 1 380px}
.table-wrap{overflow-x:auto;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums;min-width:min(100%,420px)}
caption{text-align:left;font-size:13px;color:var(--muted);font-weight:600;padding:0 0 6px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12.5px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);white-space:nowrap;background:var(--soft)}
tbody tr:nth-child(even){background:#fbfbfc}
tbody tr:hover{background:#f1f5fb}
.num{text-align:right;white-space:nowrap}
.pm{color:var(--muted);font-size:12px}
td.layer .name{font-weight:600}
td.layer .sub{display:block;color:var(--muted);font-size:11.5px}
.mono{font-family:var(--mono);font-size:12.5px}
.op{font-family:var(--mono);font-size:12px;background:#eef2f7;border-radius:4px;padding:1px 6px}
.kind{color:var(--muted);font-size:12px;white-space:nowrap}
table.kv th{font-weight:600;color:var(--muted);white-space:nowrap;background:none;font-size:13px}
table.kv td{overflow-wrap:anywhere}
.pair>.table-wrap.wide{flex:2 1 520px}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:0 0 30px}
footer p.definitions{max-width:880px;margin:8px auto 0;text-align:left}
@media print{nav.toc{display:none}body{background:#fff}section,.card{break-inside:avoid;border-color:#ccc}header.top{background:#fff;color:#000}header.top .meta{color:#333}}
`;

/**
 * The conventions every section shares, and where the full definitions are: the page is one
 * file that may travel without the package, so it names the file rather than linking to it.
 */
const DEFINITIONS_NOTE = `<p class="definitions" id="definitions">Conventions: α is the weight on B, θ(α) = (1−α)·θ<sub>A</sub> + α·θ<sub>B</sub>. The LLFC and weak-additivity distances are cosine distances d(a, m) = 1 − |⟨a, m⟩| / (‖a‖·‖m‖) of one sample's flattened features, averaged over samples (a sample with a zero norm is skipped and counted); the commutativity distances are ‖x − y‖² / (‖x‖·‖y‖) over all the data. Sums are accumulated in float64; standard deviations are population ones. Formulas, conventions and references for every number on this page: <code>docs/definitions.md</code> in the llfc package (<code>node_modules/llfc/docs/definitions.md</code> where it is installed).</p>`;

/**
 * Renders the report as one self-contained HTML page. Async because the charts are rendered
 * by Vega; the page itself has no script and loads nothing.
 */
export async function renderHtmlReport(report: Report): Promise<string> {
  const s = reportSections(report);
  const charts: Chart[] = reportCharts(report);
  const svgs = new Map<string, string>();
  for (const chart of charts) svgs.set(chart.id, await renderSvg(chart.spec, `${chart.id}-`));

  const title = `${baseName(report.models.a)} vs ${baseName(report.models.b)}`;
  const nav: [string, string][] = [['lmc', 'LMC']];
  if (s.layers.length > 0) nav.push(['llfc', 'LLFC'], ['coefficient', 'Scale coefficient']);
  if (s.layers.some((l) => l.weakAdditivity && l.weakAdditivity.length > 0)) nav.push(['weak-additivity', 'Weak additivity']);
  if (s.commutativity.length > 0) nav.push(['commutativity', 'Commutativity']);
  if (s.layers.length === 0 && s.commutativity.length === 0) nav.push(['layers', 'Per-layer checks']);
  if (s.aligned) nav.push(['alignment', 'Alignment']);
  nav.push(['settings', 'Run']);

  const meta = [
    `${report.data.samples} samples of ${esc(baseName(report.data.source))}`,
    s.layers.length > 0 ? `${s.layers.length} layers` : '',
    s.aligned ? `aligned by ${s.aligned.method === 'weight' ? 'weight' : 'activation'} matching` : '',
    `${esc(report.tool.name)} ${esc(report.tool.version)}`,
    esc(report.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')),
  ].filter((x) => x.length > 0);

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${esc(report.tool.name)} ${esc(report.tool.version)}">
<title>llfc report: ${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<h1>${esc(baseName(report.models.a))}<span class="vs">↔</span>${esc(baseName(report.models.b))}</h1>
<div class="meta">${meta.map((m) => `<span>${m}</span>`).join('')}</div>
</div></header>
<nav class="toc"><div class="wrap">${nav.map(([id, label]) => `<a href="#${id}">${esc(label)}</a>`).join('')}</div></nav>
<main><div class="wrap">
${barrierCards(s)}
${lmcSection(s, svgs)}
${layerSections(s, svgs)}
${alignmentSection(s, svgs)}
${settingsSection(report, s)}
</div></main>
<footer>Made by ${esc(report.tool.name)} ${esc(report.tool.version)}. Hover a mark in a chart or a number in a table for its exact value.
${DEFINITIONS_NOTE}</footer>
</body>
</html>
`;
}
