/**
 * The HTML report in a real browser: Debian's headless Chromium driven by playwright-core
 * (no browser download). Skipped, with a message, where /usr/bin/chromium is missing;
 * scripts/setup.sh installs it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LmcResult } from '../../lib/results.js';
import { renderHtmlReport } from '../../lib/report/html.js';
import { tempDir } from '../helpers.js';
import { fixtureLmc, fixtureReport, referenceLayers, standInAligned, type FullReport } from './fixture-report.js';

const CHROMIUM = process.env.LLFC_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`test/report/html.browser.test.ts: skipped, no Chromium at ${CHROMIUM} (bash scripts/setup.sh installs Debian's chromium; LLFC_CHROMIUM names another)`);
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Opened {
  page: Page;
  url: string;
  errors: string[];
  requests: string[];
  dialogs: string[];
}

describe.skipIf(!hasChromium)('the HTML report in headless Chromium', () => {
  const tmp = tempDir();
  let browser: Browser;
  let lmc: LmcResult;
  let spawn: LmcResult;
  const files: Record<string, { file: string; report: FullReport }> = {};

  beforeAll(async () => {
    [lmc, spawn] = [await fixtureLmc(), await fixtureLmc('mlp_spawn_a.onnx', 'mlp_spawn_b.onnx')];
    const evil = '<script>alert(1)</script>';
    const reports: Record<string, FullReport> = {
      resnet: fixtureReport(lmc, 'resnet'),
      aligned: fixtureReport(lmc, 'mlp', standInAligned(spawn)),
      evil: { ...fixtureReport(lmc, 'mlp'), layers: referenceLayers('mlp').map((l, i) => (i === 0 ? { ...l, name: evil, module: null } : l)) },
    };
    for (const [name, report] of Object.entries(reports)) {
      const file = join(tmp.dir, `${name}.html`);
      writeFileSync(file, await renderHtmlReport(report));
      files[name] = { file, report };
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    tmp.cleanup();
  });

  async function open(name: string, viewport = { width: 1280, height: 900 }): Promise<Opened> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const url = pathToFileURL(files[name]!.file).href;
    const opened: Opened = { page, url, errors: [], requests: [], dialogs: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') opened.errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => opened.errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => opened.requests.push(r.url()));
    page.on('requestfailed', (r) => opened.errors.push(`request failed: ${r.url()}`));
    page.on('dialog', async (d) => {
      opened.dialogs.push(d.message());
      await d.dismiss();
    });
    await page.goto(url, { waitUntil: 'load' });
    return opened;
  }

  /** Marks of a chart: the paths of a named Vega mark inside the chart's figure. */
  const marks = (page: Page, chart: string, mark: string): Promise<number> => page.locator(`#chart-${chart} svg g.${mark} > path`).count();

  it('loads from file:// with no console error and no network request', async () => {
    for (const name of Object.keys(files)) {
      const { page, url, errors, requests, dialogs } = await open(name);
      expect(errors, name).toEqual([]);
      expect(requests, name).toEqual([url]);
      expect(dialogs, name).toEqual([]);
      expect(await page.locator('script').count()).toBe(0);
      const ids = await page.evaluate(() => [...document.querySelectorAll('[id]')].map((e) => e.id));
      expect(new Set(ids).size, `${name}: duplicate ids`).toBe(ids.length);
      await page.context().close();
    }
  });

  it('draws the LMC curves with one point per α, each with its exact values as tooltip', async () => {
    const { page } = await open('resnet');
    expect(await marks(page, 'lmc-loss', 'lmc_points_marks')).toBe(lmc.alphas.length);
    expect(await marks(page, 'lmc-accuracy', 'lmc_points_marks')).toBe(lmc.alphas.length);
    const titles = await page.locator('#chart-lmc-loss g.lmc_points_marks > path > title').allTextContents();
    expect(titles).toHaveLength(lmc.alphas.length);
    titles.forEach((t, i) => expect(t).toContain(`loss ${lmc.loss[i]} · accuracy ${lmc.accuracy[i]}`));
    // Both lines and both chords (dashed) are there.
    expect(await page.locator('#chart-lmc-loss g.mark-line path').count()).toBe(2);
    const box = await page.locator('#chart-lmc-loss svg').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(200);
    await page.context().close();
  });

  it('draws the per-layer charts: heatmaps of layers × α, grouped bars, tables', async () => {
    const { page } = await open('resnet');
    const { report } = files.resnet!;
    const layers = report.layers!.length;
    const alphas = report.layerAlphas!.length;
    const acts = report.layers!.filter((l) => l.weakAdditivity).length;
    expect(await marks(page, 'llfc-heatmap', 'llfc_heatmap_cells_marks')).toBe(layers * alphas);
    expect(await page.locator('#chart-llfc-heatmap g.mark-text.role-mark > text').count()).toBe(layers * alphas);
    expect(await marks(page, 'scale-coefficient', 'scale_coefficient_cells_marks')).toBe(layers * alphas);
    expect(await marks(page, 'llfc-bars', 'llfc_bars_marks')).toBe(2 * layers);
    expect(await marks(page, 'weak-additivity', 'weak_additivity_marks')).toBe(2 * acts);
    expect(await marks(page, 'commutativity', 'commutativity_marks')).toBe(3 * report.commutativity!.length);
    // Layer names on the heatmap's axis, shallow to deep.
    const axis = await page.locator('#chart-llfc-heatmap g.role-axis-label text').allTextContents();
    expect(axis.filter((t) => report.layers!.some((l) => l.module === t))).toEqual(report.layers!.map((l) => l.module));
    const cell = await page.locator('#chart-llfc-heatmap g.llfc_heatmap_cells_marks > path > title').first().textContent();
    expect(cell).toContain(`LLFC distance ${report.layers![0]!.llfc[0]!.distance}`);
    expect(await page.locator('#llfc table tbody tr').count()).toBe(layers);
    expect(await page.locator('#commutativity table tbody tr').count()).toBe(report.commutativity!.length);
    expect(await page.locator('#alignment').count()).toBe(0);
    await page.context().close();
  });

  it('puts naive and aligned on one chart and shows the permutation spec', async () => {
    const { page } = await open('aligned');
    const titles = await page.locator('#chart-lmc-loss g.lmc_points_marks > path > title').allTextContents();
    expect(titles.filter((t) => t.startsWith('naive'))).toHaveLength(lmc.alphas.length);
    expect(titles.filter((t) => t.startsWith('aligned'))).toHaveLength(spawn.alphas.length);
    const { report } = files.aligned!;
    expect(await marks(page, 'llfc-heatmap-aligned', 'llfc_heatmap_aligned_cells_marks')).toBe(report.layers!.length * report.layerAlphas!.length);
    expect(await marks(page, 'llfc-bars', 'llfc_bars_marks')).toBe(4 * report.layers!.length);
    expect(await page.locator('#alignment table').filter({ has: page.locator('caption', { hasText: 'permutation group' }) }).locator('tbody tr').count()).toBe(report.aligned!.spec.groups.length);
    expect(await page.locator('#chart-alignment-objective svg').count()).toBe(1);
    await page.context().close();
  });

  it('shows a layer named <script> as text', async () => {
    const { page, dialogs } = await open('evil');
    expect(dialogs).toEqual([]);
    expect(await page.locator('#llfc td.layer .name').first().textContent()).toBe('<script>alert(1)</script>');
    await page.context().close();
  });

  it('fits a phone screen without sideways scrolling of the page', async () => {
    const { page } = await open('aligned', { width: 400, height: 800 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(400);
    await page.context().close();
  });

  it('takes a screenshot', async () => {
    const { page } = await open('aligned');
    const shot = join(tmp.dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    await page.context().close();
  });
});
