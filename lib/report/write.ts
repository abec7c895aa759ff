/**
 * Writing the report's HTML page and plot files: atomically, and never over an input file.
 * Vega and resvg are loaded only when something is written.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../onnx/model.js';
import { checkOutputPath, type Report } from './json.js';

/** The output flags shared by the commands that produce a report. */
export interface ReportOutputFlags {
  /** Write the HTML report to this file. */
  readonly html?: string;
  /** Write each chart as SVG and PNG into this directory. */
  readonly plots?: string;
}

/** What was written, for the command's closing message. */
export interface WrittenOutputs {
  readonly html?: string;
  readonly plotsDir?: string;
  /** The SVG and PNG files written into plotsDir. */
  readonly plots?: string[];
}

/**
 * Refuses outputs that are input files (call it before the work starts, with every input
 * and every other output such as the JSON report's path).
 */
export function checkReportOutputs(flags: ReportOutputFlags, inputs: readonly string[]): void {
  if (flags.html !== undefined) checkOutputPath(flags.html, inputs);
  if (flags.plots !== undefined) checkOutputPath(flags.plots, inputs);
}

/** The report as one self-contained HTML page (lib/report/html.ts; Vega is loaded on first use). */
export async function renderHtmlReport(report: Report): Promise<string> {
  const html = await import('./html.js');
  return html.renderHtmlReport(report);
}

/** Renders the report and writes it as one self-contained HTML file. */
export async function writeHtmlReport(report: Report, file: string): Promise<void> {
  await writeFileAtomic(file, await renderHtmlReport(report));
}

/**
 * Writes every chart of the report into `dir` (created if missing) as `<id>.svg` and
 * `<id>.png` (twice the SVG's size); returns the files written.
 */
export async function writePlots(report: Report, dir: string, inputs: readonly string[] = []): Promise<string[]> {
  const { reportCharts, renderSvg, svgToPng } = await import('./charts.js');
  const existing = await stat(dir).catch(() => null);
  if (existing && !existing.isDirectory()) throw new InvalidArgumentError(`--plots ${dir}: not a directory`);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const chart of reportCharts(report)) {
    const svg = await renderSvg(chart.spec);
    const svgFile = join(dir, `${chart.id}.svg`);
    const pngFile = join(dir, `${chart.id}.png`);
    checkOutputPath(svgFile, inputs);
    checkOutputPath(pngFile, inputs);
    await writeFileAtomic(svgFile, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
    await writeFileAtomic(pngFile, await svgToPng(svg));
    written.push(svgFile, pngFile);
  }
  return written;
}

/**
 * Writes the HTML report and the plots the flags ask for. `inputs` are the command's input
 * files (models, data, labels), which are never overwritten.
 */
export async function writeReportOutputs(report: Report, flags: ReportOutputFlags, inputs: readonly string[] = []): Promise<WrittenOutputs> {
  checkReportOutputs(flags, inputs);
  const out: { html?: string; plotsDir?: string; plots?: string[] } = {};
  if (flags.html !== undefined) {
    await writeHtmlReport(report, flags.html);
    out.html = flags.html;
  }
  if (flags.plots !== undefined) {
    out.plots = await writePlots(report, flags.plots, inputs);
    out.plotsDir = flags.plots;
  }
  return out;
}

/** The lines a command prints after writing (nothing when nothing was written). */
export function describeOutputs(written: WrittenOutputs): string {
  const lines: string[] = [];
  if (written.html) lines.push(`HTML report written to ${written.html}`);
  if (written.plots) lines.push(`${written.plots.length / 2} plots written to ${written.plotsDir} (SVG and PNG)`);
  return lines.map((l) => `${l}\n`).join('');
}
