/** Terminal output for commands: tables, a progress bar on TTYs, and Ctrl-C as cancellation. */
import cliProgress from 'cli-progress';
import type { ProgressEvent, ProgressListener } from '../progress.js';

export interface OutputOptions {
  readonly quiet?: boolean;
  readonly json?: boolean;
}

/**
 * A progress listener drawing a bar with ETA on stderr, only when stderr is a terminal and
 * output is not quiet; `stop()` clears it. LLFC_PROGRESS=lines prints one line per event
 * instead (for logs, and for callers that wait until the work, and its Ctrl-C handler, runs).
 */
export function progressBar(options: OutputOptions): { listener: ProgressListener; stop(): void } {
  if (options.quiet) return { listener: () => {}, stop: () => {} };
  if (process.env.LLFC_PROGRESS === 'lines') {
    return { listener: (e) => process.stderr.write(`llfc: ${e.phase} ${e.done}/${e.total}\n`), stop: () => {} };
  }
  if (!process.stderr.isTTY) return { listener: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: ' {phase} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let phase = '';
  return {
    listener: (e: ProgressEvent) => {
      if (e.phase !== phase) {
        if (phase) bar.stop();
        phase = e.phase;
        bar.start(e.total, e.done, { phase });
      } else {
        bar.update(e.done, { phase });
      }
    },
    stop: () => {
      if (phase) bar.stop();
    },
  };
}

/** An AbortSignal that fires on the first Ctrl-C (SIGINT); a second one exits at once. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onInt = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort('interrupted (Ctrl-C)');
  };
  process.on('SIGINT', onInt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInt) };
}
