/** What every report-producing command does at the end: JSON, HTML, plots, and the printout. */
import { Command, Option } from 'commander';
import { buildReport, checkOutputPath, writeReport, type Report } from '../report/json.js';
import { checkReportOutputs, describeOutputs, writeReportOutputs, type ReportOutputFlags } from '../report/write.js';
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
  new Option('--feed <mode>', 'how parameters reach onnxruntime').choices(['initializers', 'inputs']).default('initializers');

/** Refuses outputs that would overwrite an input; call before any work starts. */
export function checkOutputs(flags: ReportFlags, inputs: readonly string[]): void {
  if (flags.out) checkOutputPath(flags.out, inputs);
  checkReportOutputs(flags, [...inputs, ...(flags.out ? [flags.out] : [])]);
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

/** Writes the report where the flags say and prints it (text, or JSON with --json). */
export async function finishReport(fields: Parameters<typeof buildReport>[0], flags: ReportFlags, inputs: readonly string[], text: () => string): Promise<Report> {
  const report = buildReport(fields);
  if (flags.out) await writeReport(report, flags.out);
  const written = await writeReportOutputs(report, flags, inputs);
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!flags.quiet) {
    process.stdout.write(`${text()}\n`);
    if (flags.out) process.stdout.write(`report written to ${flags.out}\n`);
    process.stdout.write(describeOutputs(written));
  }
  return report;
}
