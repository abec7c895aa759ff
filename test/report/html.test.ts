import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LmcResult, LayerReport } from '../../lib/results.js';
import { escapeHtml, formatNumber, formatPercent } from '../../lib/present/html.js';
import { layerLabels, reportSections } from '../../lib/present/sections.js';
import { renderSvg, reportCharts } from '../../lib/report/charts.js';
import { renderHtmlReport } from '../../lib/report/html.js';
import { fixture } from '../helpers.js';
import { fixtureLmc, fixtureReport, referenceLayers, standInAligned, type FullReport } from './fixture-report.js';

let lmc: LmcResult;
let report: FullReport;
let html: string;

beforeAll(async () => {
  lmc = await fixtureLmc();
  report = fixtureReport(lmc, 'resnet');
  html = await renderHtmlReport(report);
});

/** Every URL-like attribute value and CSS url() in the page. */
function references(page: string): string[] {
  const attrs = [...page.matchAll(/\s(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]!);
  const css = [...page.matchAll(/url\(\s*["']?([^"')]+)/gi)].map((m) => m[1]!);
  return [...attrs, ...css];
}

describe('formatting', () => {
  it('formats numbers for tables', () => {
    expect(formatNumber(0.19796376495980988)).toBe('0.1980');
    expect(formatNumber(1.4328, 2)).toBe('1.43');
    expect(formatNumber(0)).toBe('0.0000');
    expect(formatNumber(0.0000123)).toBe('1.23e−5');
    expect(formatNumber(-0.5)).toBe('−0.5000');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(Infinity)).toBe('∞');
    expect(formatPercent(0.8567)).toBe('85.67%');
  });

  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('labels layers by module path, else tensor name, and keeps labels unique', () => {
    expect(layerLabels([
      { name: '/a/Relu_output_0', module: 'a' },
      { name: 't1', module: null },
      { name: '/b/Relu_output_0', module: 'b' },
      { name: '/b/Relu_1_output_0', module: 'b' },
    ])).toEqual(['a', 't1', 'b · /b/Relu_output_0', 'b · /b/Relu_1_output_0']);
    expect(layerLabels([{ name: 'x', module: null }, { name: 'x', module: null }])).toEqual(['x', 'x #2']);
  });
});

describe('renderHtmlReport', () => {
  it('is one self-contained page: no script, no external reference', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/@import|@font-face/i);
    const refs = references(html);
    expect(refs.filter((r) => /^(https?:)?\/\//i.test(r))).toEqual([]);
    // Only in-page anchors and SVG clip-path/gradient ids.
    expect(refs.every((r) => r.startsWith('#'))).toBe(true);
  });

  it('shows every layer, by module path and ONNX tensor name', () => {
    for (const layer of report.layers!) {
      expect(html).toContain(`>${escapeHtml(layer.module!)}<`);
      expect(html).toContain(escapeHtml(layer.name));
    }
    for (const c of report.commutativity!) {
      expect(html).toContain(`>${escapeHtml(c.module!)}<`);
      expect(html).toContain(escapeHtml(c.weight));
    }
  });

  it('shows the barriers and the curves as formatted numbers, exact values in titles', () => {
    const b = lmc.barriers!;
    expect(html).toContain(`>${formatNumber(b.loss)}<`);
    expect(html).toContain(`>${formatNumber(b.lossMidpoint)}<`);
    expect(html).toContain(`>${formatPercent(b.accuracy)}<`);
    lmc.loss.forEach((l, i) => {
      expect(html).toContain(`title="${l}">${formatNumber(l)}</td>`);
      expect(html).toContain(`>${formatPercent(lmc.accuracy[i]!)}<`);
    });
    const relu = report.layers![0]!;
    expect(html).toContain(`>${formatNumber(relu.baseline)}<`);
    expect(html).toContain(`${formatNumber(relu.llfc[1]!.distance)} <span class="pm">± ${formatNumber(relu.llfc[1]!.distanceStd, 3)}</span>`);
    // Tooltips of the chart marks carry the exact values.
    expect(html).toContain(`LLFC distance ${relu.llfc[1]!.distance} ± ${relu.llfc[1]!.distanceStd}`);
    expect(html).toContain(`loss ${lmc.loss[5]}`);
  });

  it('has every section, with its explanation and chart', () => {
    for (const id of ['lmc', 'llfc', 'coefficient', 'weak-additivity', 'commutativity', 'settings']) expect(html).toContain(`<section id="${id}">`);
    for (const id of ['lmc-loss', 'lmc-accuracy', 'llfc-heatmap', 'llfc-bars', 'scale-coefficient', 'weak-additivity', 'commutativity']) {
      expect(html).toMatch(new RegExp(`<figure class="chart" id="chart-${id}" data-chart="${id}"><svg[^>]*>`));
    }
    expect(html).not.toContain('<section id="alignment">');
    expect(html).toContain('far below the baseline');
    expect(html).toContain(escapeHtml(report.tool.onnxruntime));
    expect(html).toContain(escapeHtml(report.data.source));
    expect(html).toContain(escapeHtml(report.models.a));
  });

  it('states the shared conventions and names the definitions page, which the package ships', () => {
    const note = html.match(/<p class="definitions" id="definitions">([\s\S]*?)<\/p>/)?.[1] ?? '';
    expect(note).toContain('d(a, m) = 1 − |⟨a, m⟩| / (‖a‖·‖m‖)');
    expect(note).toContain('‖x − y‖² / (‖x‖·‖y‖)');
    expect(note).toContain('float64');
    expect(note).toContain('<code>docs/definitions.md</code>');
    const root = fixture('..', '..');
    expect(existsSync(join(root, 'docs', 'definitions.md'))).toBe(true);
    expect((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files).toContain('docs');
  });

  it('puts naive and aligned on one LMC chart and shows the permutation spec', async () => {
    const spawn = await fixtureLmc('mlp_spawn_a.onnx', 'mlp_spawn_b.onnx');
    const aligned = fixtureReport(lmc, 'mlp', standInAligned(spawn));
    const page = await renderHtmlReport(aligned);
    expect(page).toContain('<section id="alignment">');
    for (const g of aligned.aligned!.spec.groups) expect(page).toContain(`>${g.name}<`);
    expect(page).toContain('weight matching');
    const loss = /id="chart-lmc-loss"[\s\S]*?<\/figure>/.exec(page)![0];
    expect(loss.match(/<title>naive ·/g)).toHaveLength(lmc.alphas.length);
    expect(loss.match(/<title>aligned ·/g)).toHaveLength(spawn.alphas.length);
    for (const id of ['llfc-heatmap-aligned', 'scale-coefficient-aligned', 'commutativity-aligned', 'alignment-objective']) expect(page).toContain(`id="chart-${id}"`);
    expect(page).toContain(`>${formatNumber(spawn.barriers!.loss)}<`);
  });

  it('escapes names: a layer named <script> does not inject', async () => {
    const evil = '<script>alert(1)</script>';
    const layers: LayerReport[] = referenceLayers('mlp').map((l, i) => (i === 0 ? { ...l, name: evil, module: null } : i === 1 ? { ...l, module: '<img src=x onerror=alert(2)>' } : l));
    const page = await renderHtmlReport({
      ...fixtureReport(lmc, 'mlp'),
      models: { a: '/tmp/"><b>a.onnx', b: 'b.onnx' },
      layers,
      commutativity: [{ node: '/x/Gemm', weight: evil, op: 'Gemm', module: null, distCom: 1, distW: 2, distH: 3 }],
    });
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<b>a.onnx');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(2)&gt;');
  });

  it('renders an LMC-only report, and a report without labels', async () => {
    const { layers: _l, commutativity: _c, layerAlphas: _a, ...lmcOnly } = report;
    const page = await renderHtmlReport(lmcOnly);
    expect(page).toContain('<code>llfc analyze</code>');
    expect(page).toContain('id="chart-lmc-loss"');
    expect(page).not.toContain('id="chart-llfc-heatmap"');
    const noLabels = await renderHtmlReport({ ...report, lmc: null });
    expect(noLabels).toContain('the data has no labels');
    expect(noLabels).not.toContain('id="chart-lmc-loss"');
    expect(noLabels).toContain('id="chart-llfc-heatmap"');
  });
});

describe('charts', () => {
  it('compile and render without Vega warnings, one titled mark per value', async () => {
    const sections = reportSections(report);
    const charts = reportCharts(report);
    expect(charts.map((c) => c.id)).toEqual(['lmc-loss', 'lmc-accuracy', 'llfc-heatmap', 'llfc-bars', 'scale-coefficient', 'weak-additivity', 'commutativity']);
    const titles: Record<string, number> = {};
    for (const chart of charts) {
      const warnings: string[] = [];
      const svg = await renderSvg(chart.spec, '', warnings);
      expect(warnings, chart.id).toEqual([]);
      expect(svg).toMatch(/^<svg [^>]*width="\d+(\.\d+)?" height="\d+(\.\d+)?"/);
      titles[chart.id] = (svg.match(/<title>/g) ?? []).length;
    }
    const layers = sections.layers.length;
    const acts = sections.layers.filter((l) => l.weakAdditivity).length;
    expect(titles).toEqual({
      'lmc-loss': lmc.alphas.length,
      'lmc-accuracy': lmc.alphas.length,
      'llfc-heatmap': layers * sections.alphas.length,
      'llfc-bars': 2 * layers,
      'scale-coefficient': layers * sections.alphas.length,
      'weak-additivity': 2 * acts,
      commutativity: 3 * sections.commutativity.length,
    });
  });

  it('prefixes SVG ids so charts can share a page', async () => {
    const svg = await renderSvg(reportCharts(report).find((c) => c.id === 'llfc-heatmap')!.spec, 'p-');
    const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('p-'))).toBe(true);
    for (const m of svg.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
  });
});

describe('folded BatchNorm', () => {
  it('the settings say when the report measured checkpoints with BatchNorm folded into their convolutions, and only then', async () => {
    const folded = await renderHtmlReport({ ...report, foldedBatchNorm: { convs: ['/conv1/Conv', '/conv2/Conv'] } });
    expect(folded).toContain('<tr><th>BatchNorm</th><td>folded into 2 convolutions (an eval-mode export)');
    expect(html).not.toContain('<th>BatchNorm</th>');
  });
});
