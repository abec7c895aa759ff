/** `--shard i/n|auto` on the commands that run sharded: the shard's pass, its partial at --out, and what the shard did. */
import type { Command } from 'commander';
import { shard } from '../api.js';
import type { OpenDatasetOptions } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import type { ShardedCommand } from '../shard/partial.js';
import { SLURM_COUNT, SLURM_INDEX } from '../shard/range.js';
import { withProgress, type ReportFlags } from './report-output.js';

export interface ShardFlags {
  shard?: string;
}

export function addShardOption(command: Command): Command {
  return command.option('--shard <i/n|auto>', `run only shard i of n (0-based) of the data and write its partial to --out, for llfc reduce; auto: the Slurm array task (${SLURM_INDEX} of ${SLURM_COUNT})`);
}

/** Runs the shard the flags name and says what it did; the partial goes to --out. */
export async function runShardFromFlags(command: ShardedCommand, a: string, b: string, data: OpenDatasetOptions, options: object, flags: ShardFlags & ReportFlags): Promise<void> {
  if (flags.out === undefined) throw new InvalidArgumentError('--shard writes the shard\'s partial: give --out PARTIAL, then llfc reduce the partials of every shard');
  const refused = (['html', 'plots', 'json'] as const).filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (refused.length > 0) throw new InvalidArgumentError(`--shard writes a partial, not a report: ${refused.map((k) => `--${k}`).join(', ')} belong${refused.length === 1 ? 's' : ''} to llfc reduce`);
  const outcome = await withProgress(flags, (control) => shard({ command, a, b, data, options, shard: flags.shard!, out: flags.out! }, control));
  if (flags.quiet) return;
  const { index, count, from, to, samples } = outcome.shard;
  process.stdout.write(
    outcome.reused
      ? `shard ${index}/${count}: ${outcome.out} already holds this shard's partial of the same run (same settings and inputs); reused it, nothing recomputed\n`
      : `shard ${index}/${count}: samples ${from} … ${to} of ${samples}; partial written to ${outcome.out}\n`,
  );
}
