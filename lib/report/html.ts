/**
 * The HTML report: one self-contained file (inline CSS and SVG charts, no script, no fonts or
 * anything else fetched when it is opened) with the LMC curves and barriers, the per-layer
 * LLFC, weak additivity, commutativity and scale coefficients, the permutation spec when the
 * pair was aligned, and the run's settings and versions. Definitions: docs/definitions.md.
 */
import type { HtmlPart } from '../checks/check.js';
import { CHECKS } from '../checks/registry.js';
import type { Chart } from '../present/charts.js';
import { alphaText, esc, figure, layerNameCell, numCell, pctCell, table } from '../present/html.js';
import { alphaNearestHalf, layerLabels, reportSections, type ReportSections } from '../present/sections.js';
import { alignmentName, type AlignedAnalysis, type SymmetryKind } from '../results.js';
import { layerwiseHtml } from '../studies/layerwise-report.js';
import { renderSvg, reportCharts } from './charts.js';
import type { Report } from './json.js';

/** The name of a file, for headings (full paths stay in the settings table). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

// ---------------------------------------------------------------------------------------------
// Sections: each check's own (lib/checks/registry.ts), then the alignment and the run

/**
 * The checks' sections in registry order, then the layer-wise barriers'; a page without any
 * per-layer result says how to get them.
 */
function checkSections(s: ReportSections, svgs: Map<string, string>): HtmlPart[] {
  const parts: HtmlPart[] = [];
  let perLayer = false;
  for (const check of CHECKS) {
    const part = check.html(s, svgs);
    if (!part) continue;
    parts.push(part);
    perLayer ||= check.perLayer;
  }
  const layerwise = layerwiseHtml(s, svgs);
  if (layerwise) parts.push(layerwise);
  if (!perLayer && !layerwise) {
    parts.push({
      nav: [['layers', 'Per-layer checks']],
      body: `<section id="layers"><h2>Per-layer checks</h2><p class="note">Not in this report: <code>llfc analyze</code> measures layerwise linear feature connectivity (LLFC), weak additivity and commutativity layer by layer.</p></section>`,
    });
  }
  return parts;
}

const methodName = (a: AlignedAnalysis): string => alignmentName(a);

/** What each kind of symmetry permutes (SCIENCE.md §5, §7). */
const SYMMETRY_TEXT: Record<SymmetryKind, string> = {
  'residual stream': 'one permutation shared by several layers\' outputs (the residual stream: embeddings, norms, every writer\'s rows and reader\'s columns)',
  hidden: 'the hidden units of one layer (an MLP or convolution)',
  heads: 'the attention heads of one layer (the d_head blocks of Q, K, V and the out-projection move together)',
  'within-head': 'the QK dims and the V dims inside each head',
  experts: 'the experts of a mixture-of-experts layer, with the gate\'s rows',
  'expert hidden': 'the hidden units inside each expert',
};

/** Naive and every alignment side by side: the barriers, then the LLFC distance per layer at the α nearest ½. */
function alignmentComparison(s: ReportSections, all: readonly AlignedAnalysis[]): string {
  const columns = ['naive', ...all.map(methodName)];
  const parts: string[] = [];
  const barriers = [s.lmc?.barriers, ...all.map((a) => a.lmc?.barriers)];
  if (barriers.every((b) => b)) {
    const row = (name: string, pick: (b: NonNullable<(typeof barriers)[number]>) => number, cell = (x: number) => numCell(x)): string[] => [`<td>${name}</td>`, ...barriers.map((b) => cell(pick(b!)))];
    parts.push(table(['barrier', ...columns], [row('loss', (b) => b.loss), row('loss (midpoint)', (b) => b.lossMidpoint), row('accuracy', (b) => b.accuracy, pctCell)], { caption: 'LMC barriers, naive and aligned' }));
  }
  const alpha = alphaNearestHalf(s.alphas);
  if (alpha !== null && s.layers.length > 0) {
    const labels = layerLabels(s.layers);
    const at = (layers: ReportSections['layers'], i: number): string => {
      const point = layers.find((l) => l.name === s.layers[i]!.name)?.llfc.find((p) => p.alpha === alpha);
      return point ? numCell(point.distance) : '<td class="num">–</td>';
    };
    const rows = s.layers.map((l, i) => [layerNameCell(labels[i]!, l), at(s.layers, i), ...all.map((a) => at(a.layers, i))]);
    parts.push(table(['layer', ...columns], rows, { caption: `LLFC distance per layer at α = ${alphaText(alpha)}` }));
  }
  return parts.length > 0 ? `<div class="pair">${parts.join('')}</div>` : '';
}

function alignmentSection(s: ReportSections, svgs: Map<string, string>): string {
  const a = s.aligned;
  if (!a) return '';
  const all = [a, ...s.alsoAligned];
  const method = all.map(methodName).join(', then afresh by ');
  const groups = table(
    ['group', 'symmetry', 'size (units)', 'tensor axes'],
    a.spec.groups.map((g) => [`<td class="mono">${esc(g.name)}</td>`, `<td>${esc(g.symmetry ?? '')}</td>`, `<td class="num">${g.size}</td>`, `<td class="num">${g.tensors}</td>`]),
    { caption: `${a.spec.groups.length} permutation group${a.spec.groups.length === 1 ? '' : 's'}`, numeric: (i) => i >= 2 },
  );
  const symmetries = a.spec.symmetries
    ? table(
        ['symmetry', 'groups', 'units', 'what it permutes'],
        a.spec.symmetries.map((k) => [`<td>${esc(k.kind)}</td>`, `<td class="num">${k.groups}</td>`, `<td class="num">${k.units}</td>`, `<td>${esc(SYMMETRY_TEXT[k.kind])}</td>`]),
        { caption: 'symmetries used', numeric: (i) => i === 1 || i === 2 },
      )
    : '';
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
${alignmentComparison(s, all)}
<div class="pair">${symmetries}${fixed}</div>
${groups}
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
  const tokens = report.layers?.find((l) => l.tokens !== undefined)?.tokens;
  if (tokens !== undefined) rows.push(row('tokens', `${tokens} token samples in the per-layer statistics (the ${report.data.samples} samples are sequences)`));
  if (report.lmc?.tokens !== undefined) rows.push(row('labelled tokens', `${report.lmc.tokens}: the loss and accuracy are means over them`));
  if (s.alphas.length > 0) rows.push(row('α of the per-layer checks', s.alphas.map(alphaText).join(', ')));
  if (s.aligned) rows.push(row('alignment', [s.aligned, ...s.alsoAligned].map(methodName).join(', ')));
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

/** The page up to its header's title line: doctype, head (title, inline CSS), the header's opening. */
export function pageHead(tool: { readonly name: string; readonly version: string }, title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${esc(tool.name)} ${esc(tool.version)}">
<title>llfc report: ${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">`;
}

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
  const sections = checkSections(s, svgs);
  const nav: (readonly [string, string])[] = sections.flatMap((p) => p.nav);
  if (s.aligned) nav.push(['alignment', 'Alignment']);
  nav.push(['settings', 'Run']);

  const meta = [
    `${report.data.samples} samples of ${esc(baseName(report.data.source))}`,
    s.layers.length > 0 ? `${s.layers.length} layers` : '',
    s.aligned ? `aligned by ${[s.aligned, ...s.alsoAligned].map(methodName).join(' and by ')}` : '',
    `${esc(report.tool.name)} ${esc(report.tool.version)}`,
    esc(report.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')),
  ].filter((x) => x.length > 0);

  return `${pageHead(report.tool, title)}
<h1>${esc(baseName(report.models.a))}<span class="vs">↔</span>${esc(baseName(report.models.b))}</h1>
<div class="meta">${meta.map((m) => `<span>${m}</span>`).join('')}</div>
</div></header>
<nav class="toc"><div class="wrap">${nav.map(([id, label]) => `<a href="#${id}">${esc(label)}</a>`).join('')}</div></nav>
<main><div class="wrap">
${sections.map((p) => p.body).join('\n')}
${alignmentSection(s, svgs)}
${settingsSection(report, s)}
</div></main>
<footer>Made by ${esc(report.tool.name)} ${esc(report.tool.version)}. Hover a mark in a chart or a number in a table for its exact value.
${DEFINITIONS_NOTE}</footer>
</body>
</html>
`;
}
