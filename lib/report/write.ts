/**
 * The report's HTML page and plot files, written through the output gate (lib/outputs.ts).
 * Vega and resvg are loaded only when something is rendered.
 */
import { join } from 'node:path';
import { checkOutputs, commitOutputs, writeOutputs, type DeclaredOutput, type OutputFile, type OutputPlan } from '../outputs.js';
import type { Chart } from '../present/charts.js';
import type { Report } from './json.js';

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

/** The outputs the flags name, as the gate takes them. */
export function reportOutputs(flags: ReportOutputFlags): DeclaredOutput[] {
  return [
    ...(flags.html !== undefined ? [{ path: flags.html, label: '--html' }] : []),
    ...(flags.plots !== undefined ? [{ path: flags.plots, label: '--plots', directory: true }] : []),
  ];
}

/**
 * Checks the HTML and plots outputs (call it before the work starts, with every input; the
 * JSON report's path goes in one checkOutputs call with these, see lib/cli/report-output.ts).
 */
export function checkReportOutputs(flags: ReportOutputFlags, inputs: readonly string[]): Promise<OutputPlan> {
  return checkOutputs(reportOutputs(flags), inputs);
}

/** The report as one self-contained HTML page (lib/report/html.ts; Vega is loaded on first use). */
export async function renderHtmlReport(report: Report): Promise<string> {
  const html = await import('./html.js');
  return html.renderHtmlReport(report);
}

/** Renders the report and writes it as one self-contained HTML file, through the output gate (atomically, never over an input). */
export async function writeHtmlReport(report: Report, file: string, inputs: readonly string[] = []): Promise<void> {
  await writeOutputs([{ path: file, content: await renderHtmlReport(report) }], inputs);
}

/** How a kind of report is shown: its HTML page and its charts (the pair report's by default; lib/report/study.ts for merge and series). */
export interface ReportPages<R> {
  html(report: R): Promise<string>;
  charts(report: R): Promise<Chart[]>;
}

const PAIR_PAGES: ReportPages<Report> = { html: renderHtmlReport, charts: async (report) => (await import('./charts.js')).reportCharts(report) };

/** Every chart of the report as `<dir>/<id>.svg` and `<dir>/<id>.png` (twice the SVG's size), rendered. */
export async function plotFiles<R = Report>(report: R, dir: string, pages: ReportPages<R> = PAIR_PAGES as unknown as ReportPages<R>): Promise<OutputFile[]> {
  const { renderSvg, svgToPng } = await import('./charts.js');
  const files: OutputFile[] = [];
  for (const chart of await pages.charts(report)) {
    const svg = await renderSvg(chart.spec);
    files.push({ path: join(dir, `${chart.id}.svg`), content: `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n` });
    files.push({ path: join(dir, `${chart.id}.png`), content: await svgToPng(svg) });
  }
  return files;
}

/** Writes every chart of the report into `dir` (created if missing); returns the files written. */
export async function writePlots(report: Report, dir: string, inputs: readonly string[] = []): Promise<string[]> {
  const plan = await checkReportOutputs({ plots: dir }, inputs);
  const files = await plotFiles(report, dir);
  await commitOutputs(plan, files);
  return files.map((f) => f.path);
}

/** The HTML page and plot files the flags ask for, rendered but not written, and what they are. */
export async function renderReportOutputs<R = Report>(report: R, flags: ReportOutputFlags, pages: ReportPages<R> = PAIR_PAGES as unknown as ReportPages<R>): Promise<{ files: OutputFile[]; written: WrittenOutputs }> {
  const files: OutputFile[] = [];
  const written: { html?: string; plotsDir?: string; plots?: string[] } = {};
  if (flags.html !== undefined) {
    files.push({ path: flags.html, content: await pages.html(report) });
    written.html = flags.html;
  }
  if (flags.plots !== undefined) {
    const plots = await plotFiles(report, flags.plots, pages);
    files.push(...plots);
    written.plots = plots.map((f) => f.path);
    written.plotsDir = flags.plots;
  }
  return { files, written };
}

/**
 * Writes the HTML report and the plots the flags ask for, together. `inputs` are the
 * command's input files (models, data, labels), which are never overwritten.
 */
export async function writeReportOutputs(report: Report, flags: ReportOutputFlags, inputs: readonly string[] = []): Promise<WrittenOutputs> {
  const plan = await checkReportOutputs(flags, inputs);
  const { files, written } = await renderReportOutputs(report, flags);
  await commitOutputs(plan, files);
  return written;
}

/** The lines a command prints after writing (nothing when nothing was written). */
export function describeOutputs(written: WrittenOutputs): string {
  const lines: string[] = [];
  if (written.html) lines.push(`HTML report written to ${written.html}`);
  if (written.plots) lines.push(`${written.plots.length / 2} plots written to ${written.plotsDir} (SVG and PNG)`);
  return lines.map((l) => `${l}\n`).join('');
}
