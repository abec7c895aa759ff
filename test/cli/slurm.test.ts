import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reduceScript, shardsScript, type SlurmRun } from '../../lib/shard/slurm-script.js';
import { version } from '../../lib/version.js';
import { fixture, llfc, llfcWith, runCliInProcess, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const repo = fixture('..', '..').replace(/\/$/, '');
const models = ['test/fixtures/models/mlp_a.onnx', 'test/fixtures/models/mlp_b.onnx'];
const data = ['--data', 'test/fixtures/data/fashion_test_x.npy', '--labels', 'test/fixtures/data/fashion_test_y.npy'];

/** A script with this machine's paths replaced by names, so that its text can be pinned. */
const normalized = (text: string): string => text.replaceAll(process.execPath, '<node>').replaceAll(tmp.dir, '<tmp>').replaceAll(repo, '<repo>').replaceAll(`llfc ${version}`, 'llfc <version>');

describe('llfc slurm: the scripts', () => {
  it('--print prints the array script (shard i of n, input files absolute, the report options left to the reduction, --quiet to both), the reduce script and the submit command; it writes nothing', () => {
    const r = llfc('slurm', 'analyze', ...models, ...data, '--mean=-0.5', '--std', '2', '--no-commutativity', '--shards', '4', '--partition', 'short,long', '--time', '1-00:30', '--cpus-per-task', '2', '--out', join(tmp.dir, 'r.json'), '--html', join(tmp.dir, 'r.html'), '--quiet', '--print');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(normalized(r.stdout)).toBe(`# <tmp>/r.slurm/shards.sbatch
#!/bin/bash
# Written by \`llfc slurm analyze\` (llfc <version>): array task i runs shard i of 4 of
#   llfc analyze <repo>/test/fixtures/models/mlp_a.onnx <repo>/test/fixtures/models/mlp_b.onnx --no-commutativity --data <repo>/test/fixtures/data/fashion_test_x.npy --labels <repo>/test/fixtures/data/fashion_test_y.npy --mean=-0.5 --std 2 --quiet
# and writes its partial to <tmp>/r.slurm/part-<i>.partial.json; <tmp>/r.slurm/reduce.sbatch reduces them.
# Re-run failed shards alone (here 3 and 5), then the reduction:
#   jid=$(sbatch --parsable --array=3,5 <tmp>/r.slurm/shards.sbatch) && sbatch --dependency=afterok:$jid <tmp>/r.slurm/reduce.sbatch
# Running the whole array again with the same settings reuses the partials already written.
#SBATCH --job-name=llfc-analyze
#SBATCH --array=0-3
#SBATCH --output=<tmp>/r.slurm/shard-%a.log
#SBATCH --chdir=<repo>
#SBATCH --partition=short,long
#SBATCH --time=1-00:30
#SBATCH --cpus-per-task=2
set -euo pipefail
shard=\${SLURM_ARRAY_TASK_ID:?submit this script with sbatch (an array task sets SLURM_ARRAY_TASK_ID)}
exec <node> --import tsx <repo>/test/run-cli.ts analyze <repo>/test/fixtures/models/mlp_a.onnx <repo>/test/fixtures/models/mlp_b.onnx --no-commutativity --data <repo>/test/fixtures/data/fashion_test_x.npy --labels <repo>/test/fixtures/data/fashion_test_y.npy --mean=-0.5 --std 2 --quiet --shard "$shard/4" --out <tmp>/r.slurm/part-"$shard".partial.json

# <tmp>/r.slurm/reduce.sbatch
#!/bin/bash
# Written by \`llfc slurm analyze\` (llfc <version>): reduces the 4 partials of <tmp>/r.slurm/shards.sbatch.
# Submitted to wait for the whole array (afterok); Slurm cancels it when a shard fails
# (--kill-on-invalid-dep), and it is submitted again with the re-run shards.
#SBATCH --job-name=llfc-analyze-reduce
#SBATCH --output=<tmp>/r.slurm/reduce.log
#SBATCH --chdir=<repo>
#SBATCH --partition=short,long
#SBATCH --time=1-00:30
#SBATCH --kill-on-invalid-dep=yes
set -euo pipefail
exec <node> --import tsx <repo>/test/run-cli.ts reduce <tmp>/r.slurm/part-{0..3}.partial.json --out <tmp>/r.json --html <tmp>/r.html --quiet

# submit (nothing was written or submitted: --print):
jid=$(sbatch --parsable <tmp>/r.slurm/shards.sbatch) && sbatch --dependency=afterok:$jid <tmp>/r.slurm/reduce.sbatch
`);
    expect(existsSync(join(tmp.dir, 'r.slurm'))).toBe(false);
  });

  it('bash runs the scripts with every word intact: blanks and quotes in paths, shard i of n from the array task, the partials as a brace list', () => {
    const dir = join(tmp.dir, "my runs/it's here");
    // printf prints each argument on its own line: the command line exactly as the job runs it.
    const run: SlurmRun = {
      command: 'lmc',
      args: [join(dir, 'a b.onnx'), '/m/b.onnx', '--data', '/d/x $HOME.npy', '--mean=-0.5'],
      reduceArgs: ['--out', join(dir, 'report "1".json')],
      shards: 3,
      workDir: join(dir, 'work'),
      llfc: ['/usr/bin/printf', '%s\\n'],
      cwd: dir,
    };
    // stdin not a socket: bash would take itself for a remote shell and read ~/.bashrc.
    const bash = (script: string, env: NodeJS.ProcessEnv) => spawnSync('bash', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...env } });
    const argv = (script: string, env: NodeJS.ProcessEnv): string[] => {
      const r = bash(script, env);
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').slice(0, -1);
    };
    const shards = shardsScript(run);
    expect(shards).toContain(`#SBATCH --output="${dir}/work/shard-%a.log"`);
    expect(shards).toContain(`#SBATCH --chdir="${dir}"`);
    expect(argv(shards, { SLURM_ARRAY_TASK_ID: '2' })).toEqual(['lmc', ...run.args, '--shard', '2/3', '--out', `${dir}/work/part-2.partial.json`]);
    expect(argv(reduceScript(run), {})).toEqual(['reduce', ...[0, 1, 2].map((i) => `${dir}/work/part-${i}.partial.json`), ...run.reduceArgs]);
    expect(bash(shards, {}).stderr).toMatch(/submit this script with sbatch/);
  });

  it('align --method activation: the shards get the data and the matching options, the reduction -o and --perm-out', async () => {
    const aligned = join(tmp.dir, 'B aligned.onnx');
    const r = await runCliInProcess('slurm', 'align', ...models, '--method', 'activation', ...data.slice(0, 2), '--limit', '100', '-o', aligned, '--perm-out', join(tmp.dir, 'p.json'), '--shards', '3', '--print');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const exec = r.stdout.split('\n').filter((l) => l.startsWith('exec '));
    expect(exec[0]).toMatch(new RegExp(` align ${repo}/test/fixtures/models/mlp_a\\.onnx ${repo}/test/fixtures/models/mlp_b\\.onnx --method activation --data ${repo}/test/fixtures/data/fashion_test_x\\.npy --limit 100 --shard "\\$shard/3" --out '${tmp.dir}/B aligned\\.slurm/part-'"\\$shard"\\.partial\\.json$`));
    expect(exec[1]).toMatch(new RegExp(` reduce '${tmp.dir}/B aligned\\.slurm/part-'\\{0\\.\\.2\\}\\.partial\\.json --output '${aligned.replace('.', '\\.')}' --perm-out ${tmp.dir}/p\\.json$`));
  });

  it('a folder that an #SBATCH line cannot hold (", \\, % or a line break) is refused with its name', () => {
    const run: SlurmRun = { command: 'lmc', args: [], reduceArgs: ['--out', '/r.json'], shards: 2, workDir: '/runs/100%', llfc: ['/bin/true'], cwd: '/' };
    expect(() => shardsScript(run)).toThrow(/--work-dir: "\/runs\/100%" cannot be given to Slurm in an #SBATCH line/);
    expect(() => reduceScript({ ...run, workDir: '/w', cwd: '/a"b' })).toThrow(/the working directory: "\/a\\"b" cannot/);
  });
});

describe('llfc slurm: submitting', () => {
  it('writes both scripts through the output gate and submits the array, then the reduction with afterok on the array job', () => {
    // A stand-in sbatch: records its arguments, answers with the next job id as --parsable does.
    const bin = join(tmp.dir, 'bin');
    mkdirSync(bin);
    const calls = join(tmp.dir, 'sbatch-calls');
    writeFileSync(join(bin, 'sbatch'), `#!/bin/bash\necho "$*" >> '${calls}'\necho $((40 + $(wc -l < '${calls}')))\\;cluster\n`);
    chmodSync(join(bin, 'sbatch'), 0o755);
    const work = join(tmp.dir, 'submit work');
    const r = llfcWith({ env: { PATH: `${bin}:${process.env.PATH}` } }, 'slurm', 'lmc', ...models, ...data, '--shards', '8', '--work-dir', work, '--out', join(tmp.dir, 'lmc.json'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('submitted the 8 shards as array job 41 and the reduction as job 42');
    expect(readFileSync(calls, 'utf8').split('\n')).toEqual([`--parsable ${work}/shards.sbatch`, `--parsable --dependency=afterok:41 ${work}/reduce.sbatch`, '']);
    expect(readFileSync(join(work, 'shards.sbatch'), 'utf8')).toMatch(/^#SBATCH --array=0-7$/m);
    expect(readFileSync(join(work, 'reduce.sbatch'), 'utf8')).toContain(`reduce '${work}/part-'{0..7}.partial.json --out ${tmp.dir}/lmc.json`);
  });

  it('sbatch missing or failing is a clear error (exit 2); the scripts stay written for a later sbatch', () => {
    const bin = join(tmp.dir, 'failing-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sbatch'), '#!/bin/bash\necho "sbatch: error: invalid partition specified: nope" >&2\nexit 1\n');
    chmodSync(join(bin, 'sbatch'), 0o755);
    const args = ['slurm', 'lmc', ...models, ...data, '--shards', '2', '--out', join(tmp.dir, 'failing.json')];
    const failing = llfcWith({ env: { PATH: `${bin}:${process.env.PATH}` } }, ...args, '--partition', 'nope');
    expect(failing.status).toBe(2);
    expect(failing.stderr).toMatch(/^llfc: error: sbatch --parsable .*shards\.sbatch failed: sbatch: error: invalid partition specified: nope$/m);
    expect(existsSync(join(tmp.dir, 'failing.slurm', 'shards.sbatch'))).toBe(true);
    const missing = llfcWith({ env: { PATH: join(tmp.dir, 'no-such-bin') } }, ...args);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/sbatch not found: run llfc slurm where Slurm's commands are .* or print the scripts with --print/);
  });
});

describe('llfc slurm: bad input is refused before anything is written or submitted (exit 2, naming it)', () => {
  const out = join(tmp.dir, 'bad.json');
  const cases: [string, string[], RegExp][] = [
    ['no --shards', ['analyze', ...models, ...data, '--out', out], /required option '--shards <n>' not specified/],
    ['--shards 0', ['analyze', ...models, ...data, '--shards', '0', '--out', out], /--shards must be a positive integer, got 0/],
    ['--shards 2.5', ['analyze', ...models, ...data, '--shards', '2.5', '--out', out], /--shards must be a positive integer, got 2.5/],
    ['--shards x', ['analyze', ...models, ...data, '--shards', 'x', '--out', out], /--shards: 'x' is not a number/],
    ['--time 5 minutes', ['analyze', ...models, ...data, '--shards', '2', '--time', '5 minutes', '--out', out], /--time must be a Slurm time limit.*got '5 minutes'/],
    ['--partition a;b', ['analyze', ...models, ...data, '--shards', '2', '--partition', 'a;b', '--out', out], /--partition must be a Slurm partition name/],
    ['--cpus-per-task 0', ['analyze', ...models, ...data, '--shards', '2', '--cpus-per-task', '0', '--out', out], /--cpus-per-task must be a positive integer, got 0/],
    ['no report named', ['analyze', ...models, ...data, '--shards', '2'], /llfc slurm analyze: name what the reduction writes \(--out, --html or --plots\)/],
    ['a missing checkpoint', ['analyze', 'nope.onnx', models[1]!, ...data, '--shards', '2', '--out', out], /<a> nope\.onnx: no such file/],
    ['a missing data file', ['lmc', ...models, '--data', 'nope.npy', '--shards', '2', '--out', out], /--data nope\.npy: no such file/],
    ['a folder as labels', ['lmc', ...models, '--data', data[1]!, '--labels', 'test', '--shards', '2', '--out', out], /--labels test: not a regular file/],
    ['--out in a missing folder', ['analyze', ...models, ...data, '--shards', '2', '--out', join(tmp.dir, 'none', 'r.json')], /cannot write --out .*: the directory .* does not exist/],
    ['--out naming an input', ['analyze', ...models, ...data, '--shards', '2', '--out', data[1]!], /refusing to write --out .*: it is an input file/],
    ['analyze --align', ['analyze', ...models, ...data, '--shards', '2', '--align', 'weight', '--out', out], /llfc slurm analyze: --align needs the whole data at once/],
    ['align by weights', ['align', ...models, '--method', 'weight', '-o', join(tmp.dir, 'x.onnx'), '--shards', '2'], /llfc slurm align: only activation matching reads data to split into shards/],
    ['a command that is not sharded', ['interpolate', ...models, '--shards', '2'], /unknown command 'interpolate'/],
    ['an option of another command', ['lmc', ...models, ...data, '--shards', '2', '--no-commutativity', '--out', out], /unknown option '--no-commutativity'/],
  ];
  it.each(cases)('%s', async (_, args, message) => {
    const r = await runCliInProcess('slurm', ...args);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(existsSync(join(tmp.dir, 'bad.slurm'))).toBe(false);
  });
});
