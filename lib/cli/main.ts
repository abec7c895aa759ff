/** The `llfc` command: parses arguments, runs a subcommand, maps errors to exit codes. */
import { Command, CommanderError } from 'commander';
import { CancelledError, LlfcError } from '../errors.js';
import { version } from '../version.js';
import { analyzeCommand } from './analyze.js';
import { demoCommand } from './demo.js';
import { interpolateCommand } from './interpolate.js';
import { layerwiseCommand } from './layerwise.js';
import { lmcCommand } from './lmc.js';
import { specCommand } from './spec.js';
import { permuteCommand } from './permute.js';
import { alignCommand } from './align.js';
import { slurmCommand } from './slurm.js';
import { mergeCommand } from './merge.js';
import { seriesCommand } from './series.js';
import { reduceCommand } from './reduce.js';

/**
 * Ctrl-C where no command handles it (while starting, between the work and the writing)
 * exits 130 at once; where a command's handler is installed, that handler cancels the work
 * instead.
 */
function exitOnUnhandledInterrupt(): { dispose(): void } {
  const onInt = (): void => {
    if (process.listenerCount('SIGINT') > 1) return;
    process.stderr.write('llfc: interrupted (Ctrl-C)\n');
    process.exit(130);
  };
  process.on('SIGINT', onInt);
  return { dispose: () => process.off('SIGINT', onInt) };
}

/** Exit codes: 0 ok, 1 unexpected failure, 2 bad input or usage, 130 interrupted. */
export async function main(argv: readonly string[]): Promise<number> {
  const interrupts = exitOnUnhandledInterrupt();
  try {
    return await run(argv);
  } finally {
    interrupts.dispose();
  }
}

async function run(argv: readonly string[]): Promise<number> {
  const program = new Command('llfc')
    .description('linear mode connectivity and layerwise linear feature connectivity of ONNX checkpoints')
    .version(version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.addCommand(lmcCommand().exitOverride());
  program.addCommand(analyzeCommand().exitOverride());
  program.addCommand(interpolateCommand().exitOverride());
  program.addCommand(demoCommand().exitOverride());
  program.addCommand(specCommand().exitOverride());
  program.addCommand(permuteCommand().exitOverride());
  program.addCommand(alignCommand().exitOverride());
  program.addCommand(layerwiseCommand().exitOverride());
  program.addCommand(slurmCommand().exitOverride());
  program.addCommand(mergeCommand().exitOverride());
  program.addCommand(seriesCommand().exitOverride());
  program.addCommand(reduceCommand().exitOverride());
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CancelledError) {
      process.stderr.write(`llfc: ${error.message}; nothing written\n`);
      return 130;
    }
    if (error instanceof LlfcError) {
      process.stderr.write(`llfc: error: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`llfc: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
