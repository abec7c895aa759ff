import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LmcResult } from '../../lib/results.js';
import { renderSvg, reportCharts, svgSize, svgToPng } from '../../lib/report/charts.js';
import { writeHtmlReport, writePlots, writeReportOutputs } from '../../lib/report/write.js';
import { fixture, llfc, tempDir } from '../helpers.js';
import { fixtureLmc, fixtureReport, type FullReport } from './fixture-report.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let lmc: LmcResult;
let report: FullReport;
beforeAll(async () => {
  lmc = await fixtureLmc();
  report = fixtureReport(lmc, 'cnn_bn');
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk (which must come first). */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(bytes);
  expect(b.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(b.toString('latin1', 12, 16)).toBe('IHDR');
  expect(b.toString('latin1', b.length - 8, b.length - 4)).toBe('IEND');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('plots', () => {
  it('writes every chart as SVG and as a PNG twice its size', async () => {
    const dir = join(tmp.dir, 'plots', 'nested');
    const files = await writePlots(report, dir);
    const ids = reportCharts(report).map((c) => c.id);
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(ids.flatMap((id) => [`${id}.svg`, `${id}.png`]).sort());
    expect(readdirSync(dir).sort()).toEqual(files.map((f) => f.slice(dir.length + 1)).sort()); // no temp files left
    for (const id of ids) {
      const svg = readFileSync(join(dir, `${id}.svg`), 'utf8');
      expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      const { width, height } = svgSize(svg);
      expect(width).toBeGreaterThan(100);
      const png = pngSize(readFileSync(join(dir, `${id}.png`)));
      expect(png.width).toBe(Math.round(2 * width));
      expect(png.height).toBe(Math.round(2 * height));
    }
  });

  it('renders a PNG with no font at all (the text is left out, nothing fails)', async () => {
    const svg = await renderSvg(reportCharts(report)[0]!.spec);
    const [withFonts, without] = await Promise.all([svgToPng(svg, 1), svgToPng(svg, 1, { systemFonts: false })]);
    expect(pngSize(without)).toEqual(pngSize(withFonts));
    if (existsSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')) expect(withFonts.length).toBeGreaterThan(without.length);
  });

  it('refuses a plots directory that is a file', async () => {
    const file = join(tmp.dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(writePlots(report, file)).rejects.toThrow(/not a directory/);
  });
});

describe('writeReportOutputs', () => {
  it('writes the HTML report atomically', async () => {
    const file = join(tmp.dir, 'report.html');
    await writeHtmlReport(report, file);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('conv2');
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never writes over an input file', async () => {
    const input = join(tmp.dir, 'model.onnx');
    copyFileSync(fixture('models', 'mlp_a.onnx'), input);
    await expect(writeReportOutputs(report, { html: input }, [input])).rejects.toThrow(/refusing to write .*model\.onnx: it is an input file/);
    await expect(writeReportOutputs(report, { plots: input }, [input])).rejects.toThrow(/it is an input file/);
    expect(readFileSync(input).equals(readFileSync(fixture('models', 'mlp_a.onnx')))).toBe(true);
  });

  it('writes both and says what it wrote', async () => {
    const out = await writeReportOutputs(report, { html: join(tmp.dir, 'both.html'), plots: join(tmp.dir, 'both') });
    expect(out.html).toBe(join(tmp.dir, 'both.html'));
    expect(out.plots).toHaveLength(2 * reportCharts(report).length);
  });
});

describe('llfc lmc --html --plots', () => {
  const args = [fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx'), '--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--mean', '0.286', '--std', '0.353', '--limit', '200', '--alphas', '0,0.25,0.5,0.75,1'];

  it('writes the HTML report and the plots', () => {
    const html = join(tmp.dir, 'cli.html');
    const plots = join(tmp.dir, 'cli-plots');
    const r = llfc('lmc', ...args, '--html', html, '--plots', plots);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`HTML report written to ${html}`);
    expect(r.stdout).toContain(`2 plots written to ${plots} (SVG and PNG)`);
    const page = readFileSync(html, 'utf8');
    const loss = /id="chart-lmc-loss"[\s\S]*?<\/figure>/.exec(page)![0];
    expect(loss.match(/<title>/g)).toHaveLength(5);
    expect(readdirSync(plots).sort()).toEqual(['lmc-accuracy.png', 'lmc-accuracy.svg', 'lmc-loss.png', 'lmc-loss.svg']);
  });

  it('refuses --html over an input before running', () => {
    const copy = join(tmp.dir, 'x.npy');
    copyFileSync(fixture('data', 'fashion_test_x.npy'), copy);
    const r = llfc('lmc', ...args.map((a) => (a === fixture('data', 'fashion_test_x.npy') ? copy : a)), '--html', copy);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to write .*x\.npy: it is an input file/);
    expect(readFileSync(copy).equals(readFileSync(fixture('data', 'fashion_test_x.npy')))).toBe(true);
  });

  it('keeps stdout pure JSON with --json', () => {
    const r = llfc('lmc', ...args, '--json', '--html', join(tmp.dir, 'json.html'));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).lmc.alphas).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(existsSync(join(tmp.dir, 'json.html'))).toBe(true);
  });
});
