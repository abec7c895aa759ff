/** What every report-producing command does at the end: JSON, HTML, plots, and the printout. */
import { Command, Option } from 'commander';
import { checkOutputs as checkDeclaredOutputs, commitOutputs, type OutputPlan } from '../outputs.js';
import { buildReport, reportJson, type Report } from '../report/json.js';
import { describeOutputs, renderReportOutputs, reportOutputs, type ReportOutputFlags, type ReportPages, type WrittenOutputs } from '../report/write.js';
import { optionDefault, OPTIONS } from '../options.js';
import type { ProgressListener } from '../progress.js';
import { interruptSignal, progressBar, type OutputOptions } from './terminal.js';

export interface ReportFlags extends OutputOptions, ReportOutputFlags {
  out?: string;
}

export function addReportOptions(command: Command): Command {
  return command
    .option('--out <file>', 'write the JSON report here')
    .option('--html <file>', 'write a self-contained HTML report with charts here')
    .option('--plots <dir>', 'write each chart as SVG and PNG into this directory')
    .option('--json', 'print the report as JSON on stdout')
    .option('--quiet', 'print nothing but errors');
}

export const feedOption = (): Option =>
  new Option('--feed <mode>', `how parameters reach onnxruntime (default ${optionDefault('feed')})`).choices(OPTIONS.feed.values);

/** Checks every output the flags name (--out, --html, --plots) through the output gate; call before any work starts. */
export function checkOutputs(flags: ReportFlags, inputs: readonly string[]): Promise<OutputPlan> {
  return checkDeclaredOutputs([...(flags.out !== undefined ? [{ path: flags.out, label: '--out' }] : []), ...reportOutputs(flags)], inputs);
}

/**
 * Runs the work with a progress bar (on a terminal) and Ctrl-C as cancellation; nothing is
 * written when it is interrupted.
 */
export async function withProgress<T>(flags: OutputOptions, work: (control: { signal: AbortSignal; onProgress: ProgressListener }) => Promise<T>): Promise<T> {
  const bar = progressBar(flags);
  const interrupt = interruptSignal();
  try {
    return await work({ signal: interrupt.signal, onProgress: bar.listener });
  } finally {
    bar.stop();
    interrupt.dispose();
  }
}

/**
 * Writes the report where the flags say, all files together (Ctrl-C while writing leaves
 * none), and prints it (text, or JSON with --json). `outputs` is what checkOutputs approved.
 */
export async function finishReport(fields: Parameters<typeof buildReport>[0], flags: ReportFlags, outputs: OutputPlan, text: () => string): Promise<Report> {
  return publishReport(buildReport(fields), flags, outputs, text);
}

/** finishReport for a report of any kind, shown by `pages` (default: the pair report's). */
export async function publishReport<R extends object>(report: R, flags: ReportFlags, outputs: OutputPlan, text: () => string, pages?: ReportPages<R>): Promise<R> {
  printReport(report, flags, await writeReportFiles(report, flags, outputs, pages), text);
  return report;
}

/** Prints a written report: as JSON with --json, else its text and the files written (nothing with --quiet). */
export function printReport(report: object, flags: ReportFlags, written: WrittenOutputs, text: () => string): void {
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!flags.quiet) {
    process.stdout.write(`${text()}\n`);
    if (flags.out) process.stdout.write(`report written to ${flags.out}\n`);
    process.stdout.write(describeOutputs(written));
  }
}

async function writeReportFiles<R extends object>(report: R, flags: ReportFlags, outputs: OutputPlan, pages?: ReportPages<R>): Promise<WrittenOutputs> {
  const interrupt = interruptSignal();
  try {
    const { files, written } = await renderReportOutputs(report, flags, pages);
    const json = flags.out !== undefined ? [{ path: flags.out, content: reportJson(report) }] : [];
    await commitOutputs(outputs, [...json, ...files], { signal: interrupt.signal });
    return written;
  } finally {
    interrupt.dispose();
  }
}
