/**
 * `llfc slurm <command> … --shards n --out report.json`: the command as a Slurm job array of n
 * shards plus a reduce job that waits for them and writes the report. Each sharded command is
 * the command itself (same arguments, same checks) with the Slurm options added; its parsed
 * arguments are written back as the shards' command line, with every file made absolute.
 */
import { statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { InvalidArgumentError } from '../errors.js';
import { checkOption } from '../options.js';
import { checkOutputs, commitOutputs, type DeclaredOutput } from '../outputs.js';
import { submitRun } from '../shard/sbatch.js';
import { reduceScript, shardsScript, slurmFiles, submitCommand, type SlurmRun } from '../shard/slurm-script.js';
import { analyzeCommand } from './analyze.js';
import { lmcCommand } from './lmc.js';
import { parseNumber } from './parse.js';

/** The commands that run sharded. */
const SHARDED: readonly (() => Command)[] = [lmcCommand, analyzeCommand];

/**
 * The report options, which go to the reduction rather than the shards (a shard writes its
 * partial and no report): what each names (a file, a folder, or nothing: how it prints), and
 * --quiet, which goes to both.
 */
const REPORT_OPTIONS: Readonly<Record<string, 'file' | 'directory' | 'flag' | 'both'>> = { out: 'file', html: 'file', plots: 'directory', json: 'flag', quiet: 'both' };

/** Options whose values name input files, as each value writes its file: made absolute for the jobs. */
const INPUT_FILES: Readonly<Record<string, (value: string) => string | undefined>> = {
  data: (v) => v,
  tokens: (v) => v,
  labels: (v) => (v === 'next-token' ? undefined : v),
  input: (v) => v.slice(v.indexOf('=') + 1),
};

interface SlurmFlags {
  shards: string;
  partition?: string;
  time?: string;
  cpusPerTask?: string;
  workDir?: string;
  print?: boolean;
}

const SLURM_OPTION_KEYS = ['shards', 'partition', 'time', 'cpusPerTask', 'workDir', 'print'];

/** Adds the Slurm options to a sharded command. */
function addSlurmOptions(command: Command): Command {
  return command
    .requiredOption('--shards <n>', 'split the data into n shards, array tasks 0 … n−1')
    .option('--partition <name>', 'Slurm partition of the jobs (default: the cluster default)')
    .option('--time <limit>', 'time limit of each job, as sbatch takes it (minutes, hours:minutes:seconds, days-hours)')
    .option('--cpus-per-task <n>', 'CPUs of each shard')
    .option('--work-dir <dir>', 'the scripts, partials and logs, on a filesystem every node sees (default: beside --out, <name>.slurm)')
    .option('--print', 'print the scripts and the command that submits them; write and submit nothing');
}

/** An option's value as the words of a command line (`--data /a /b`; `--mean=-0.5` where a value starts with '-'). */
function optionWords(long: string, value: string | string[]): string[] {
  const values = Array.isArray(value) ? value : [value];
  if (values.some((v) => v.startsWith('-'))) return values.map((v) => `${long}=${v}`);
  return [long, ...values];
}

/** An input file of the run, absolute; one that is missing is an error now rather than in every shard. */
function inputFile(path: string, label: string): string {
  const absolute = resolve(path);
  const st = statSync(absolute, { throwIfNoEntry: false });
  if (!st) throw new InvalidArgumentError(`${label} ${path}: no such file`);
  if (!st.isFile()) throw new InvalidArgumentError(`${label} ${path}: not a regular file`);
  return absolute;
}

/** The run a parsed sharded command describes: the shards' arguments, the reduction's, the files read and the reports written. */
interface DescribedRun {
  readonly args: string[];
  readonly reduceArgs: string[];
  readonly inputs: string[];
  readonly outputs: DeclaredOutput[];
}

function describeRun(command: Command): DescribedRun {
  const inputs: string[] = [];
  const args = command.registeredArguments.map((argument, i) => {
    const value = command.processedArgs[i] as string;
    const file = inputFile(value, `<${argument.name()}>`);
    inputs.push(file);
    return file;
  });
  const reduceArgs: string[] = [];
  const outputs: DeclaredOutput[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    const long = option.long ?? option.short!;
    if (SLURM_OPTION_KEYS.includes(key) || command.getOptionValueSource(key) !== 'cli') continue;
    if (key === 'shard') throw new InvalidArgumentError('llfc slurm sets each job\'s --shard itself: leave --shard out');
    const value = command.getOptionValue(key) as string | string[] | boolean;
    const report = REPORT_OPTIONS[key];
    if (report === 'flag' || report === 'both') {
      reduceArgs.push(long);
      if (report === 'both') args.push(long);
    } else if (report !== undefined) {
      const path = resolve(value as string);
      reduceArgs.push(...optionWords(long, path));
      outputs.push({ path, label: long, ...(report === 'directory' ? { directory: true } : {}) });
    } else if (typeof value === 'boolean') {
      if (value === !option.negate) args.push(long);
    } else if (key in INPUT_FILES) {
      const absolute = (Array.isArray(value) ? value : [value]).map((v) => {
        const file = INPUT_FILES[key]!(v);
        if (file === undefined) return v;
        const path = inputFile(file, long);
        inputs.push(path);
        return v.slice(0, v.length - file.length) + path;
      });
      args.push(...optionWords(long, Array.isArray(value) ? absolute : absolute[0]!));
    } else {
      args.push(...optionWords(long, value));
    }
  }
  return { args, reduceArgs, inputs, outputs };
}

/** `report.json` → `report.slurm` beside it. */
const defaultWorkDir = (output: string): string => join(dirname(output), `${basename(output, extname(output))}.slurm`);

/** This llfc as the jobs run it: the same node, its flags, the same script. */
function thisLlfc(): string[] {
  return [process.execPath, ...process.execArgv, resolve(process.argv[1]!)];
}

async function runSlurm(command: Command): Promise<void> {
  const flags = command.opts<SlurmFlags>();
  const name = command.name();
  const shards = parseNumber(flags.shards, '--shards')!;
  const cpusPerTask = parseNumber(flags.cpusPerTask, '--cpus-per-task');
  checkOption('shards', shards, '--shards');
  if (flags.partition !== undefined) checkOption('partition', flags.partition, '--partition');
  if (flags.time !== undefined) checkOption('slurmTime', flags.time, '--time');
  if (cpusPerTask !== undefined) checkOption('cpusPerTask', cpusPerTask, '--cpus-per-task');
  if (command.getOptionValue('align') !== undefined) throw new InvalidArgumentError(`llfc slurm ${name}: --align needs the whole data at once, so it does not run in shards: align first, then analyze A and the aligned B`);
  const { args, reduceArgs, inputs, outputs } = describeRun(command);
  if (outputs.length === 0) throw new InvalidArgumentError(`llfc slurm ${name}: name the report the reduction writes (--out, --html or --plots)`);
  const workDir = resolve(flags.workDir ?? defaultWorkDir(outputs[0]!.path));
  const run: SlurmRun = {
    command: name,
    args,
    reduceArgs,
    shards,
    workDir,
    llfc: thisLlfc(),
    cwd: process.cwd(),
    ...(flags.partition !== undefined ? { partition: flags.partition } : {}),
    ...(flags.time !== undefined ? { time: flags.time } : {}),
    ...(cpusPerTask !== undefined ? { cpusPerTask } : {}),
  };
  const files = slurmFiles(workDir);
  const scripts = [
    { path: files.shardsScript, content: shardsScript(run) },
    { path: files.reduceScript, content: reduceScript(run) },
  ];
  if (flags.print) {
    for (const s of scripts) process.stdout.write(`# ${s.path}\n${s.content}\n`);
    process.stdout.write(`# submit (nothing was written or submitted: --print):\n${submitCommand(files)}\n`);
    return;
  }
  // The reports are checked now, though the reduction writes them, so that a wrong path fails here.
  const plan = await checkOutputs([{ path: workDir, label: '--work-dir', directory: true }, ...outputs], inputs);
  await commitOutputs(plan, scripts);
  const jobs = await submitRun(files);
  process.stdout.write(
    `wrote ${files.shardsScript} and ${files.reduceScript}\n` +
      `submitted the ${run.shards} shards as array job ${jobs.shards} and the reduction as job ${jobs.reduce} (it waits for every shard to succeed)\n` +
      `logs: ${join(workDir, 'shard-<i>.log')}, ${join(workDir, 'reduce.log')}; a failed shard is re-run as ${files.shardsScript} says\n`,
  );
}

export function slurmCommand(): Command {
  const slurm = new Command('slurm').description('run a command as a Slurm job array of shards plus a reduce job that writes the report (submitted with sbatch)');
  for (const command of SHARDED) {
    const sharded = addSlurmOptions(command().exitOverride());
    sharded.description(`${sharded.description()}; as --shards Slurm jobs and their reduction`);
    sharded.action(async () => runSlurm(sharded));
    slurm.addCommand(sharded);
  }
  return slurm;
}
