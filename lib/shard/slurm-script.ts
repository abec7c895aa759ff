/**
 * The sbatch scripts of a sharded run on Slurm: one job array whose task i runs shard i of n
 * and writes its partial into the work folder, and one reduce job, submitted to wait for the
 * whole array (afterok), that reduces the n partials into the report. Text only: writing the
 * files and submitting them is the caller's (lib/shard/sbatch.ts).
 */
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { version } from '../version.js';

/** One sharded run, every path absolute. */
export interface SlurmRun {
  /** The llfc command sharded: `analyze`, `lmc`, `align`. */
  readonly command: string;
  /** Its arguments as one shard runs them, without `--shard` and the report options. */
  readonly args: readonly string[];
  /** The report options, as `llfc reduce` takes them: `['--out', '/abs/report.json', …]`. */
  readonly reduceArgs: readonly string[];
  readonly shards: number;
  /** Where the scripts, the partials and the jobs' logs go. */
  readonly workDir: string;
  /** How this llfc is run: node, its own flags, the bin script. */
  readonly llfc: readonly string[];
  /** The jobs' working directory: where the user ran `llfc slurm`. */
  readonly cwd: string;
  readonly partition?: string;
  readonly time?: string;
  readonly cpusPerTask?: number;
}

/** The files of a run in its work folder. */
export interface SlurmFiles {
  readonly shardsScript: string;
  readonly reduceScript: string;
  /** Shard i's partial is this prefix, i, then PARTIAL_SUFFIX. */
  readonly partialPrefix: string;
}

export const PARTIAL_SUFFIX = '.partial.json';

export function slurmFiles(workDir: string): SlurmFiles {
  return { shardsScript: join(workDir, 'shards.sbatch'), reduceScript: join(workDir, 'reduce.sbatch'), partialPrefix: join(workDir, 'part-') };
}

/** One word for bash: as it is when it has no special characters, else single-quoted. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const shellWords = (words: readonly string[]): string => words.map(shellQuote).join(' ');

/**
 * A folder, or a file `name` in it, as an `#SBATCH` line takes it: double-quoted when it holds
 * blanks. sbatch reads no escapes there and expands `%` patterns in file names, so a folder
 * with `"`, `\`, `%` or a line break cannot be written and is refused.
 */
export function sbatchPath(dir: string, flag: string, name?: string): string {
  if (/["\\%\n\r]/.test(dir)) throw new InvalidArgumentError(`${flag}: ${JSON.stringify(dir)} cannot be given to Slurm in an #SBATCH line (it holds ", \\, % or a line break)`);
  const path = name !== undefined ? join(dir, name) : dir;
  return /\s/.test(path) ? `"${path}"` : path;
}

/** The `#SBATCH` lines both jobs share: where they run and for how long. */
function resourceLines(run: SlurmRun): string[] {
  return [
    `#SBATCH --chdir=${sbatchPath(run.cwd, 'the working directory')}`,
    ...(run.partition !== undefined ? [`#SBATCH --partition=${run.partition}`] : []),
    ...(run.time !== undefined ? [`#SBATCH --time=${run.time}`] : []),
  ];
}

/** The shell command that submits both scripts, the reduction waiting for the array (all of it, or the shards `array` names). */
export function submitCommand(files: SlurmFiles, array?: string): string {
  const shards = ['sbatch', '--parsable', ...(array !== undefined ? [`--array=${array}`] : []), files.shardsScript];
  return `jid=$(${shellWords(shards)}) && sbatch --dependency=afterok:$jid ${shellQuote(files.reduceScript)}`;
}

/** The array script: task i runs shard i of n. */
export function shardsScript(run: SlurmRun): string {
  const files = slurmFiles(run.workDir);
  return [
    '#!/bin/bash',
    `# Written by \`llfc slurm ${run.command}\` (llfc ${version}): array task i runs shard i of ${run.shards} of`,
    `#   llfc ${shellWords([run.command, ...run.args])}`,
    `# and writes its partial to ${files.partialPrefix}<i>${PARTIAL_SUFFIX}; ${files.reduceScript} reduces them.`,
    '# Re-run failed shards alone (here 3 and 5), then the reduction:',
    `#   ${submitCommand(files, '3,5')}`,
    '# Running the whole array again with the same settings reuses the partials already written.',
    `#SBATCH --job-name=llfc-${run.command}`,
    `#SBATCH --array=0-${run.shards - 1}`,
    `#SBATCH --output=${sbatchPath(run.workDir, '--work-dir', 'shard-%a.log')}`,
    ...resourceLines(run),
    ...(run.cpusPerTask !== undefined ? [`#SBATCH --cpus-per-task=${run.cpusPerTask}`] : []),
    'set -euo pipefail',
    // The count is written here rather than read by `--shard auto`: an array that re-runs
    // some shards (--array=3,5) counts only those.
    'shard=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch (an array task sets SLURM_ARRAY_TASK_ID)}',
    `exec ${shellWords([...run.llfc, run.command, ...run.args])} --shard "$shard/${run.shards}" --out ${shellQuote(files.partialPrefix)}"$shard"${PARTIAL_SUFFIX}`,
    '',
  ].join('\n');
}

/** The reduce script: the n partials into the final outputs. */
export function reduceScript(run: SlurmRun): string {
  const files = slurmFiles(run.workDir);
  return [
    '#!/bin/bash',
    `# Written by \`llfc slurm ${run.command}\` (llfc ${version}): reduces the ${run.shards} partials of ${files.shardsScript}.`,
    '# Submitted to wait for the whole array (afterok); Slurm cancels it when a shard fails',
    '# (--kill-on-invalid-dep), and it is submitted again with the re-run shards.',
    `#SBATCH --job-name=llfc-${run.command}-reduce`,
    `#SBATCH --output=${sbatchPath(run.workDir, '--work-dir', 'reduce.log')}`,
    ...resourceLines(run),
    '#SBATCH --kill-on-invalid-dep=yes',
    'set -euo pipefail',
    `exec ${shellWords([...run.llfc, 'reduce'])} ${shellQuote(files.partialPrefix)}{0..${run.shards - 1}}${PARTIAL_SUFFIX} ${shellWords(run.reduceArgs)}`,
    '',
  ].join('\n');
}
