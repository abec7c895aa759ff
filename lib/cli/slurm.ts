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
import { alignCommand } from './align.js';
import { analyzeCommand } from './analyze.js';
import { lmcCommand } from './lmc.js';
import { parseNumber } from './parse.js';

/**
 * What an option of a sharded command is to the run: the shards' (not listed here), the
 * reduction's (what the single run writes: a file, a folder, or nothing but how it prints),
 * both's (--quiet), or refused (the shards' partials, which llfc slurm names).
 */
type OptionRole = 'file' | 'directory' | 'flag' | 'both' | 'refused';

/** The options of the commands that write a report. */
const REPORT_ROLES: Readonly<Record<string, OptionRole>> = { out: 'file', html: 'file', plots: 'directory', json: 'flag', quiet: 'both' };

/** The commands that run sharded: the options the reduction takes, and what a sharded run cannot do. */
const SHARDED: readonly { readonly command: () => Command; readonly roles: Readonly<Record<string, OptionRole>>; refuse(command: Command): string | undefined }[] = [
  { command: lmcCommand, roles: REPORT_ROLES, refuse: () => undefined },
  {
    command: analyzeCommand,
    roles: REPORT_ROLES,
    refuse: (c) => (c.getOptionValue('align') !== undefined ? '--align needs the whole data at once, so it does not run in shards: align first (llfc slurm align --method activation), then analyze A and the aligned B' : undefined),
  },
  {
    command: alignCommand,
    roles: { output: 'file', permOut: 'file', safetensors: 'file', json: 'flag', quiet: 'both', out: 'refused' },
    refuse: (c) => (c.getOptionValue('method') !== 'activation' ? 'only activation matching reads data to split into shards (--method activation); weight matching runs whole: llfc align' : undefined),
  },
];

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

function describeRun(command: Command, roles: Readonly<Record<string, OptionRole>>): DescribedRun {
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
    const report = roles[key];
    if (report === 'refused') throw new InvalidArgumentError(`llfc slurm ${command.name()}: ${long} is each shard's partial, which llfc slurm names: leave it out`);
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

async function runSlurm(command: Command, { roles, refuse }: (typeof SHARDED)[number]): Promise<void> {
  const flags = command.opts<SlurmFlags>();
  const name = command.name();
  const shards = parseNumber(flags.shards, '--shards')!;
  const cpusPerTask = parseNumber(flags.cpusPerTask, '--cpus-per-task');
  checkOption('shards', shards, '--shards');
  if (flags.partition !== undefined) checkOption('partition', flags.partition, '--partition');
  if (flags.time !== undefined) checkOption('slurmTime', flags.time, '--time');
  if (cpusPerTask !== undefined) checkOption('cpusPerTask', cpusPerTask, '--cpus-per-task');
  const refused = refuse(command);
  if (refused !== undefined) throw new InvalidArgumentError(`llfc slurm ${name}: ${refused}`);
  const { args, reduceArgs, inputs, outputs } = describeRun(command, roles);
  if (outputs.length === 0) {
    const named = command.options.filter((o) => ['file', 'directory'].includes(roles[o.attributeName()] ?? '')).map((o) => o.long!);
    throw new InvalidArgumentError(`llfc slurm ${name}: name what the reduction writes (${named.slice(0, -1).join(', ')} or ${named.at(-1)})`);
  }
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
  for (const entry of SHARDED) {
    const sharded = addSlurmOptions(entry.command().exitOverride());
    sharded.description(`${sharded.description()}; as --shards Slurm jobs and their reduction`);
    sharded.action(async () => runSlurm(sharded, entry));
    slurm.addCommand(sharded);
  }
  return slurm;
}
