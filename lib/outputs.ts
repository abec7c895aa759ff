/**
 * The output gate: every writer, CLI and library alike, goes through it.
 *
 * Before any work, a command declares all its outputs and `checkOutputs` refuses what must not
 * or cannot be written: a path that is not a regular file (device node, FIFO, socket,
 * directory) or is a symbolic link, a directory that is missing or does not take new files, an
 * input (the same real path, or the same file through a hard link; external data files read
 * along the way count too), and one file named twice.
 *
 * At the end `commitOutputs` writes them together: every file is staged as a temporary file
 * beside its target and flushed, and only when all are staged are they renamed over their
 * targets. A failure or an interrupt while staging removes every temporary file, so either all
 * outputs appear or none.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { CancelledError, InvalidArgumentError, OutputError } from './errors.js';

/** An output a command will write. */
export interface DeclaredOutput {
  readonly path: string;
  /** How the caller named it, for messages: `--out`, `outputs.onnx`. */
  readonly label?: string;
  /** A directory the command fills with files, created when missing (`--plots`). */
  readonly directory?: boolean;
}

/** Outputs that passed the gate, and the inputs they were checked against. */
export interface OutputPlan {
  readonly outputs: readonly DeclaredOutput[];
  readonly inputs: readonly string[];
}

/** One file to commit: a declared file output, or a file directly inside a declared directory. */
export interface OutputFile {
  readonly path: string;
  /** The bytes, or the pieces they are made of in order (written one after another, never joined in memory). */
  readonly content: Uint8Array | string | readonly Uint8Array[];
}

/** A file as the gate compares it: its real path, and device and inode when it exists. */
interface Identity {
  readonly real: string;
  readonly dev?: number;
  readonly ino?: number;
}

const sameFile = (x: Identity, y: Identity): boolean => x.real === y.real || (x.ino !== undefined && x.dev === y.dev && x.ino === y.ino);

const named = (out: DeclaredOutput): string => (out.label ? `${out.label} ${out.path}` : out.path);

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** What a file is, as messages name it ("a FIFO (named pipe)"); the dataset readers name refused inputs by it too. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return st.isFile() ? 'a regular file' : 'of an unknown kind';
}

/** The identity of a path, following symbolic links; a missing path is its directory's real path plus its name. */
async function identityOf(path: string): Promise<Identity> {
  const absolute = resolve(path);
  const st = await stat(absolute).catch(() => null);
  if (st) return { real: await realpath(absolute), dev: st.dev, ino: st.ino };
  const dir = await realpath(dirname(absolute)).catch(() => dirname(absolute));
  return { real: join(dir, basename(absolute)) };
}

/**
 * Creates and removes a file in `dir`: the one test of "takes new files" that also holds for
 * root, whom permission bits do not stop but read-only mounts and /proc do.
 */
async function probeDirectory(dir: string, out: DeclaredOutput): Promise<void> {
  const probe = join(dir, `.llfc-probe-${randomBytes(6).toString('hex')}`);
  liveTemps.add(probe);
  try {
    await (await open(probe, 'wx')).close();
  } catch (error) {
    liveTemps.delete(probe);
    throw new OutputError(out.path, `cannot write ${named(out)}: the directory ${dir} does not take new files (${errorCode(error) ?? (error as Error).message})`, { cause: error });
  }
  await unlink(probe).catch(() => {});
  liveTemps.delete(probe);
}

async function statOrNull(path: string, out: DeclaredOutput, follow: boolean): Promise<Stats | null> {
  try {
    return await (follow ? stat(path) : lstat(path));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    if (errorCode(error) === 'ENOTDIR') throw new OutputError(out.path, `cannot write ${named(out)}: part of its path is not a directory`, { cause: error });
    throw new OutputError(out.path, `cannot write ${named(out)}: ${(error as Error).message}`, { cause: error });
  }
}

/** A file output: a regular file or a new path in an existing directory that takes new files. */
async function checkFile(out: DeclaredOutput): Promise<void> {
  const path = resolve(out.path);
  const st = await statOrNull(path, out, false);
  if (st?.isSymbolicLink()) throw new OutputError(out.path, `refusing to write ${named(out)}: it is a symbolic link (outputs are regular files or new paths; name the link's target instead)`);
  if (st && !st.isFile()) throw new OutputError(out.path, `refusing to write ${named(out)}: it is ${kindOf(st)}, not a regular file`);
  const dir = dirname(path);
  const parent = await statOrNull(dir, out, true);
  if (!parent) throw new OutputError(out.path, `cannot write ${named(out)}: the directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw new OutputError(out.path, `cannot write ${named(out)}: ${dir} is not a directory`);
  await probeDirectory(dir, out);
}

/** A directory output: an existing directory that takes new files, or a new path under one. */
async function checkDirectory(out: DeclaredOutput): Promise<void> {
  const path = resolve(out.path);
  const st = await statOrNull(path, out, true);
  if (st && !st.isDirectory()) throw new OutputError(out.path, `refusing to write ${named(out)}: it is ${kindOf(st)}, not a directory`);
  let existing = path;
  while (!(await statOrNull(existing, out, true))) existing = dirname(existing);
  if (!(await stat(existing)).isDirectory()) throw new OutputError(out.path, `cannot write ${named(out)}: ${existing} is not a directory`);
  await probeDirectory(existing, out);
}

async function refuseInputsAndRepeats(outputs: readonly DeclaredOutput[], inputs: readonly string[]): Promise<void> {
  const inputIds = await Promise.all(inputs.map(identityOf));
  const seen: { out: DeclaredOutput; id: Identity }[] = [];
  for (const out of outputs) {
    const id = await identityOf(out.path);
    if (inputIds.some((input) => sameFile(input, id))) throw new OutputError(out.path, `refusing to write ${named(out)}: it is an input file`);
    const twice = seen.find((s) => sameFile(s.id, id));
    if (twice) throw new OutputError(out.path, `${out.path} is named for two outputs (${named(twice.out)} and ${named(out)})`);
    seen.push({ out, id });
  }
}

/**
 * Files read as inputs beyond those a command names (the external data files of its models,
 * found only while reading them): never written either.
 */
const inputsRead = new Set<string>();

/** Records a file read as an input, so no output of this process replaces it. */
export function noteInputRead(path: string): void {
  inputsRead.add(resolve(path));
}

/** The files recorded by noteInputRead (a worker thread hands them to its caller). */
export function inputsReadSoFar(): string[] {
  return [...inputsRead];
}

/**
 * Checks every output a command will write, before any work. Undefined entries (options not
 * given) are skipped. Throws OutputError naming the first output that must not or cannot be written.
 */
export async function checkOutputs(outputs: readonly (DeclaredOutput | undefined)[], inputs: readonly string[]): Promise<OutputPlan> {
  const declared = outputs.filter((o): o is DeclaredOutput => o !== undefined);
  await refuseInputsAndRepeats(declared, [...inputs, ...inputsRead]);
  for (const out of declared) await (out.directory ? checkDirectory(out) : checkFile(out));
  return { outputs: declared, inputs: [...inputs] };
}

/** The declared output a file belongs to (itself, or the directory holding it). */
function declaredFor(plan: OutputPlan, file: string): DeclaredOutput {
  const path = resolve(file);
  const out = plan.outputs.find((o) => (o.directory ? resolve(o.path) === dirname(path) : resolve(o.path) === path));
  if (!out) throw new InvalidArgumentError(`${file} was not declared as an output before the work started`);
  return out;
}

/** Temporary files (staged outputs, directory probes) not yet renamed or removed, removed if the process exits first. */
const liveTemps = new Set<string>();

/** Removes temporary files (synchronously, so that no exit can come between). */
function discard(temps: Iterable<string>): void {
  for (const temp of [...temps]) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
    liveTemps.delete(temp);
  }
}

process.on('exit', () => discard(liveTemps));

async function stage(temp: string, content: OutputFile['content']): Promise<void> {
  liveTemps.add(temp);
  const handle = await open(temp, 'wx', 0o666);
  try {
    if (Array.isArray(content)) for (const piece of content as readonly Uint8Array[]) await handle.writeFile(piece);
    else await handle.writeFile(content as Uint8Array | string);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Ctrl-C while staging: with a handler of the caller's (the CLI's), its AbortSignal says so;
 * without one, this one notes it, and after the temporary files are removed the signal is
 * raised again so the process ends as it would have.
 */
function watchSigint(): { readonly interrupted: () => boolean; dispose(): void } {
  if (!isMainThread || process.listenerCount('SIGINT') > 0) return { interrupted: () => false, dispose: () => {} };
  let fired = false;
  const onInt = (): void => {
    fired = true;
  };
  process.on('SIGINT', onInt);
  return {
    interrupted: () => fired,
    dispose: () => {
      process.off('SIGINT', onInt);
      if (fired) process.kill(process.pid, 'SIGINT');
    },
  };
}

/** Creates a missing directory output; returns the directories created, deepest first. */
async function createDirectory(dir: string): Promise<string[]> {
  const first = await mkdir(dir, { recursive: true });
  if (!first) return [];
  const created = [dir];
  for (let d = dir; d !== first && d !== dirname(d); ) {
    d = dirname(d);
    created.push(d);
  }
  return created;
}

/**
 * Writes the files of one command together: each is checked again (the work may have taken
 * long, and the names of files inside a directory output are known only now), staged as a
 * temporary file beside its target, and when all are staged, renamed over the targets. If
 * staging fails or is interrupted (the signal, or Ctrl-C), every temporary file is removed and
 * nothing appears. The renames run back to back without yielding; should one still fail, the
 * error names the outputs already in place.
 */
export async function commitOutputs(plan: OutputPlan, files: readonly OutputFile[], options: { signal?: AbortSignal } = {}): Promise<void> {
  const targets = files.map((f) => ({ file: f, out: declaredFor(plan, f.path) }));
  const created: string[] = [];
  const staged: { temp: string; path: string; file: OutputFile }[] = [];
  const sigint = watchSigint();
  const stopIfInterrupted = (): void => {
    if (options.signal?.aborted) throw new CancelledError(typeof options.signal.reason === 'string' ? options.signal.reason : 'cancelled');
    if (sigint.interrupted()) throw new CancelledError('interrupted (Ctrl-C)');
  };
  try {
    for (const { out } of targets) if (out.directory) created.push(...(await createDirectory(resolve(out.path))));
    const each: DeclaredOutput[] = targets.map(({ file, out }) => ({ path: file.path, ...(out.label ? { label: out.label } : {}) }));
    await refuseInputsAndRepeats(each, [...plan.inputs, ...inputsRead]);
    for (const out of each) await checkFile(out);
    for (const { file } of targets) {
      stopIfInterrupted();
      const path = resolve(file.path);
      const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
      staged.push({ temp, path, file });
      try {
        await stage(temp, file.content);
      } catch (error) {
        throw new OutputError(file.path, `cannot write ${file.path}: ${(error as Error).message}`, { cause: error });
      }
    }
    stopIfInterrupted();
  } catch (error) {
    discard(staged.map((s) => s.temp));
    for (const dir of created) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty: something else wrote there
      }
    }
    sigint.dispose();
    throw error;
  }
  sigint.dispose();
  const written: string[] = [];
  for (const [k, { temp, path, file }] of staged.entries()) {
    try {
      renameSync(temp, path);
      liveTemps.delete(temp);
      written.push(file.path);
    } catch (error) {
      discard(staged.slice(k).map((s) => s.temp));
      const already = written.length > 0 ? `; already written: ${written.join(', ')}` : '';
      throw new OutputError(file.path, `cannot write ${file.path}: ${(error as Error).message}${already}`, { cause: error });
    }
  }
}

/** Checks and commits files whose contents are ready (library helpers that write one thing). */
export async function writeOutputs(files: readonly OutputFile[], inputs: readonly string[] = [], options: { signal?: AbortSignal } = {}): Promise<void> {
  const plan = await checkOutputs(files.map((f) => ({ path: f.path })), inputs);
  await commitOutputs(plan, files, options);
}

/** Writes one file through the gate: atomically (temporary file and rename), never over a device, FIFO or symlink. */
export async function writeFileAtomic(file: string, content: Uint8Array | string): Promise<void> {
  await writeOutputs([{ path: file, content }]);
}
