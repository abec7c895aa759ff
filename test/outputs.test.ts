import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, OutputError } from '../lib/errors.js';
import { checkOutputs, commitOutputs, writeFileAtomic, type OutputFile } from '../lib/outputs.js';
import { fixture, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let n = 0;
/** A fresh directory inside the test's temp dir. */
function freshDir(): string {
  const dir = join(tmp.dir, `case${n++}`);
  mkdirSync(dir);
  return dir;
}

/** Makes a FIFO or device node with the system tool; the reason it could not, or undefined. */
function make(tool: 'mkfifo' | 'mknod', ...args: string[]): string | undefined {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${tool} failed: ${r.error?.message ?? r.stderr.trim()}`;
}

const root = process.getuid?.() === 0;

describe('the output gate refuses, before any work, outputs that must not or cannot be written', () => {
  it('a character device node (the /dev/full case), which stays a device node', async (ctx) => {
    const dir = freshDir();
    const device = join(dir, 'full');
    const failed = make('mknod', device, 'c', '1', '7');
    if (failed) return ctx.skip(`cannot create a device node here (${failed})`);
    await expect(checkOutputs([{ path: device, label: '--out' }], [])).rejects.toThrow(/refusing to write --out .*full: it is a character device, not a regular file/);
    await expect(writeFileAtomic(device, '{}')).rejects.toBeInstanceOf(OutputError);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(readdirSync(dir)).toEqual(['full']);
  });

  it('a FIFO, which stays a FIFO', async (ctx) => {
    const dir = freshDir();
    const fifo = join(dir, 'pipe');
    const failed = make('mkfifo', fifo);
    if (failed) return ctx.skip(`cannot create a FIFO here (${failed})`);
    await expect(checkOutputs([{ path: fifo }], [])).rejects.toThrow(/it is a FIFO \(named pipe\), not a regular file/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('a symbolic link (the policy: refused, never followed or replaced), leaving link and target as they were', async () => {
    const dir = freshDir();
    const target = join(dir, 'target.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'original');
    symlinkSync(target, link);
    await expect(writeFileAtomic(link, 'new')).rejects.toThrow(/it is a symbolic link/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('original');
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.json'));
    await expect(writeFileAtomic(join(dir, 'dangling.json'), 'new')).rejects.toThrow(/it is a symbolic link/);
    expect(existsSync(join(dir, 'nowhere'))).toBe(false);
  });

  it('a directory where a file is meant, and a file where a directory is meant', async () => {
    const dir = freshDir();
    await expect(checkOutputs([{ path: dir, label: '--out' }], [])).rejects.toThrow(/it is a directory, not a regular file/);
    writeFileSync(join(dir, 'file'), 'x');
    await expect(checkOutputs([{ path: join(dir, 'file'), label: '--plots', directory: true }], [])).rejects.toThrow(/it is a regular file, not a directory/);
    await expect(checkOutputs([{ path: join(dir, 'file', 'below.json') }], [])).rejects.toThrow(/part of its path is not a directory/);
  });

  it('a file in a directory that does not exist', async () => {
    const missing = join(freshDir(), 'no', 'such', 'dir');
    await expect(checkOutputs([{ path: join(missing, 'r.json'), label: '--out' }], [])).rejects.toThrow(`cannot write --out ${join(missing, 'r.json')}: the directory ${missing} does not exist`);
    expect(existsSync(missing)).toBe(false);
  });

  it('a directory that does not take new files: /proc (which stops root too)', async (ctx) => {
    if (!existsSync('/proc/self')) return ctx.skip('no /proc on this system');
    await expect(checkOutputs([{ path: '/proc/llfc-report.json', label: '--out' }], [])).rejects.toThrow(/cannot write --out \/proc\/llfc-report\.json: the directory \/proc does not take new files/);
  });

  it('a directory without write permission (mode 0555)', async (ctx) => {
    if (root) return ctx.skip('running as root, whom mode 0555 does not stop (the /proc case covers root)');
    const dir = freshDir();
    chmodSync(dir, 0o555);
    await expect(checkOutputs([{ path: join(dir, 'r.json') }], [])).rejects.toThrow(/does not take new files \(EACCES\)/);
    chmodSync(dir, 0o755);
  });

  it('an input, by path, through a symbolic link to it, and through a hard link to it', async () => {
    const dir = freshDir();
    const input = join(dir, 'b.onnx');
    writeFileSync(input, 'model B');
    await expect(checkOutputs([{ path: join(dir, '.', 'b.onnx') }], [input])).rejects.toThrow(/refusing to write .*b\.onnx: it is an input file/);
    symlinkSync(input, join(dir, 'sym.onnx'));
    await expect(checkOutputs([{ path: join(dir, 'sym.onnx') }], [input])).rejects.toThrow(/sym\.onnx: it is an input file/);
    linkSync(input, join(dir, 'hard.onnx'));
    await expect(checkOutputs([{ path: join(dir, 'hard.onnx'), label: '-o' }], [input])).rejects.toThrow(/refusing to write -o .*hard\.onnx: it is an input file/);
    // The input is also caught when named through a link and the output by its real path.
    await expect(checkOutputs([{ path: input }], [join(dir, 'hard.onnx')])).rejects.toThrow(/it is an input file/);
    expect(readFileSync(input, 'utf8')).toBe('model B');
  });

  it('one file named for two outputs, by the same path or through a hard link', async () => {
    const dir = freshDir();
    await expect(checkOutputs([{ path: join(dir, 'x.json'), label: '--out' }, { path: join(dir, 'x.json'), label: '--perm-out' }], [])).rejects.toThrow(
      /x\.json is named for two outputs \(--out .*x\.json and --perm-out .*x\.json\)/,
    );
    writeFileSync(join(dir, 'one'), '1');
    linkSync(join(dir, 'one'), join(dir, 'two'));
    await expect(checkOutputs([{ path: join(dir, 'one') }, { path: join(dir, 'two') }], [])).rejects.toThrow(/named for two outputs/);
  });

  it('leaves no probe or temporary file behind when it accepts', async () => {
    const dir = freshDir();
    await checkOutputs([{ path: join(dir, 'a.json') }, { path: join(dir, 'plots'), directory: true }], [fixture('models', 'mlp_a.onnx')]);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the output gate commits the outputs of one command together', () => {
  it('writes every file, replacing a regular file, creating a missing plots directory, and leaves no temporary file', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'old.json'), 'old');
    const plan = await checkOutputs([{ path: join(dir, 'old.json') }, { path: join(dir, 'new.bin') }, { path: join(dir, 'plots', 'deep'), directory: true }], []);
    await commitOutputs(plan, [
      { path: join(dir, 'old.json'), content: 'replaced' },
      { path: join(dir, 'new.bin'), content: new Uint8Array([1, 2, 3]) },
      { path: join(dir, 'plots', 'deep', 'a.svg'), content: '<svg/>' },
    ]);
    expect(readFileSync(join(dir, 'old.json'), 'utf8')).toBe('replaced');
    expect([...readFileSync(join(dir, 'new.bin'))]).toEqual([1, 2, 3]);
    expect(readdirSync(join(dir, 'plots', 'deep'))).toEqual(['a.svg']);
    expect(readdirSync(dir).sort()).toEqual(['new.bin', 'old.json', 'plots']);
  });

  it('when staging one file fails, none appears, no temporary file stays, and a created plots directory is removed', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'kept.json'), 'before');
    const plan = await checkOutputs([{ path: join(dir, 'kept.json') }, { path: join(dir, 'plots'), directory: true }], []);
    const unwritable = 42 as unknown as string; // fs refuses to write a number
    await expect(
      commitOutputs(plan, [
        { path: join(dir, 'kept.json'), content: 'after' },
        { path: join(dir, 'plots', 'a.svg'), content: '<svg/>' },
        { path: join(dir, 'plots', 'b.svg'), content: unwritable },
      ]),
    ).rejects.toThrow(/cannot write .*b\.svg/);
    expect(readFileSync(join(dir, 'kept.json'), 'utf8')).toBe('before');
    expect(readdirSync(dir)).toEqual(['kept.json']);
  });

  it('refuses a file that was not declared before the work, writing nothing', async () => {
    const dir = freshDir();
    const plan = await checkOutputs([{ path: join(dir, 'a.json') }], []);
    await expect(commitOutputs(plan, [{ path: join(dir, 'a.json'), content: 'a' }, { path: join(dir, 'b.json'), content: 'b' }])).rejects.toThrow(/b\.json was not declared/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('checks again at commit time: a path that became a FIFO during the work is refused and nothing is written', async (ctx) => {
    const dir = freshDir();
    const plan = await checkOutputs([{ path: join(dir, 'a.json') }, { path: join(dir, 'b.json') }], []);
    const failed = make('mkfifo', join(dir, 'b.json'));
    if (failed) return ctx.skip(`cannot create a FIFO here (${failed})`);
    await expect(commitOutputs(plan, [{ path: join(dir, 'a.json'), content: 'a' }, { path: join(dir, 'b.json'), content: 'b' }])).rejects.toThrow(/FIFO/);
    expect(readdirSync(dir)).toEqual(['b.json']);
  });

  it('a plot file named like an input is refused at commit time', async () => {
    const dir = freshDir();
    const input = join(dir, 'x.svg');
    writeFileSync(input, 'data');
    const plan = await checkOutputs([{ path: dir, label: '--plots', directory: true }], [input]);
    await expect(commitOutputs(plan, [{ path: join(dir, 'y.svg'), content: 'y' }, { path: input, content: 'x' }])).rejects.toThrow(/refusing to write --plots .*x\.svg: it is an input file/);
    expect(readdirSync(dir)).toEqual(['x.svg']);
    expect(readFileSync(input, 'utf8')).toBe('data');
  });

  it('an abort while staging removes every temporary file and writes nothing (CancelledError)', async () => {
    const dir = freshDir();
    const controller = new AbortController();
    const plan = await checkOutputs([{ path: join(dir, 'a.json') }, { path: join(dir, 'b.json') }], []);
    const second: OutputFile = {
      path: join(dir, 'b.json'),
      get content() {
        controller.abort('interrupted (Ctrl-C)'); // while staging: a.json's temporary file exists now
        return 'b';
      },
    };
    await expect(commitOutputs(plan, [{ path: join(dir, 'a.json'), content: 'a' }, second], { signal: controller.signal })).rejects.toThrow(CancelledError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('Ctrl-C while staging (a child process)', () => {
  const script = fixture('..', 'outputs-interrupt.ts');
  const run = (mode: string) => {
    const dir = freshDir();
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, mode, dir], { encoding: 'utf8' });
    return { ...r, dir };
  };

  it('with the CLI handler: exit 130 and no file, temporary or not', () => {
    const r = run('handled');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(130);
    expect(readdirSync(r.dir)).toEqual([]);
  });

  it('without any handler: the process still ends by SIGINT, after removing its temporary files', () => {
    const r = run('default');
    expect(r.signal).toBe('SIGINT');
    expect(readdirSync(r.dir)).toEqual([]);
  });
});
