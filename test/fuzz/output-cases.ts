/**
 * Hostile output targets, planted in each case's directory and named as one output of a
 * command: a character device like /dev/full, a FIFO, symlinks (to a file, to nothing, to a
 * folder, to an input), a folder, a missing folder, a path under a regular file, an input
 * file, and one file named for two outputs.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers.js';
import { fashionData } from './commands.js';
import { canMakeDevices, mkFullDeviceSync, mkfifoSync } from './fs-nodes.js';
import type { FuzzCase } from './harness.js';
import type { Workspace } from './workspace.js';

interface Target {
  name: string;
  /** Planting it needs device nodes (root). */
  device?: boolean;
  /** Plants the target in `dir`; `input` is a copy of model A there, which the command reads. */
  plant(dir: string, input: string): { path: string; writes: string[] };
  mustRefuse?: string;
  /** Names the target for two outputs of one command instead of one. */
  twice?: boolean;
  /** Also a folder output (--plots) may meet it. */
  folder?: boolean;
}

const TARGETS: readonly Target[] = [
  { name: 'a character device (like /dev/full)', device: true, plant: (dir) => { mkFullDeviceSync(join(dir, 'full')); return { path: join(dir, 'full'), writes: [] }; }, mustRefuse: 'not a regular file', folder: true },
  { name: 'a FIFO', plant: (dir) => { mkfifoSync(join(dir, 'fifo')); return { path: join(dir, 'fifo'), writes: [] }; }, mustRefuse: 'not a regular file' },
  { name: 'a symlink to a file (refused, or followed and the target replaced)', plant: (dir) => { writeFileSync(join(dir, 'real.out'), 'old'); symlinkSync('real.out', join(dir, 'link.out')); return { path: join(dir, 'link.out'), writes: [join(dir, 'real.out')] }; } },
  { name: 'a dangling symlink (refused, or its target created)', plant: (dir) => { symlinkSync('fresh.out', join(dir, 'dangling.out')); return { path: join(dir, 'dangling.out'), writes: [join(dir, 'fresh.out')] }; } },
  { name: 'a symlink to a folder', plant: (dir) => { mkdirSync(join(dir, 'folder')); symlinkSync('folder', join(dir, 'folder-link')); return { path: join(dir, 'folder-link'), writes: [] }; }, mustRefuse: 'a folder' },
  { name: 'a symlink to the input model', plant: (dir, input) => { symlinkSync(input, join(dir, 'alias.onnx')); return { path: join(dir, 'alias.onnx'), writes: [] }; }, mustRefuse: 'it would overwrite an input' },
  { name: 'a folder', plant: (dir) => { mkdirSync(join(dir, 'adir')); writeFileSync(join(dir, 'adir', 'keep'), 'keep'); return { path: join(dir, 'adir'), writes: [] }; }, mustRefuse: 'a folder' },
  { name: 'a path in a missing folder', plant: (dir) => ({ path: join(dir, 'missing', 'x.out'), writes: [] }), mustRefuse: 'the folder does not exist' },
  { name: 'a path under a regular file', plant: (dir) => { writeFileSync(join(dir, 'afile'), 'keep'); return { path: join(dir, 'afile', 'x.out'), writes: [] }; }, mustRefuse: 'not a folder', folder: true },
  { name: 'the input model', plant: (_dir, input) => ({ path: input, writes: [] }), mustRefuse: 'it is an input' },
  { name: 'one file named for two outputs', plant: (dir) => ({ path: join(dir, 'both.out'), writes: [] }), mustRefuse: 'two outputs in one file', twice: true },
  { name: 'an existing regular file (a control: replaced)', plant: (dir) => { writeFileSync(join(dir, 'old.out'), 'old'); return { path: join(dir, 'old.out'), writes: [join(dir, 'old.out')] }; } },
];

/** One output of a command: the argv with `target` in that place, and the command's other outputs. */
interface Slot {
  name: string;
  /** Writes a folder (--plots), not a file. */
  folder?: boolean;
  /** `twice` names the target for a second output too (only slots with `pair`). */
  pair?: boolean;
  build(a: string, dir: string, target: string, twice: boolean): { argv: string[]; others: string[] };
}

const b = fixture('models', 'cnn_bn_b.onnx');

/** A slot whose command has other outputs: `twice` puts the target in the first one's place too. */
function paired(name: string, argv: (a: string, target: string, others: string[]) => string[], otherNames: string[]): Slot {
  return {
    name,
    pair: true,
    build: (a, dir, target, twice) => {
      const others = otherNames.map((n, i) => (twice && i === 0 ? target : join(dir, n)));
      return { argv: argv(a, target, others), others: others.filter((o) => o !== target) };
    },
  };
}

const report = (command: 'lmc' | 'analyze') => [command, '<a>', b, ...fashionData, '--steps', '3', ...(command === 'analyze' ? ['--alphas', '0.5'] : []), '--quiet'];
const withA = (argv: string[], a: string): string[] => argv.map((x) => (x === '<a>' ? a : x));

const SLOTS: readonly Slot[] = [
  { name: 'interpolate -o', build: (a, _dir, t) => ({ argv: ['interpolate', a, b, '--alpha', '0.5', '-o', t, '--quiet'], others: [] }) },
  { name: 'spec --out', build: (a, _dir, t) => ({ argv: ['spec', a, '--out', t], others: [] }) },
  paired('permute -o', (a, t, [p]) => ['permute', a, '--random', '-o', t, '--perm-out', p!, '--quiet'], ['perms.json']),
  paired('permute --perm-out', (a, t, [o]) => ['permute', a, '--random', '-o', o!, '--perm-out', t, '--quiet'], ['permuted.onnx']),
  paired('align -o', (a, t, [p, s]) => ['align', a, b, '--method', 'weight', '-o', t, '--perm-out', p!, '--safetensors', s!, '--quiet'], ['perms.json', 'b.safetensors']),
  paired('align --perm-out', (a, t, [s, o]) => ['align', a, b, '--method', 'weight', '-o', o!, '--perm-out', t, '--safetensors', s!, '--quiet'], ['b.safetensors', 'aligned.onnx']),
  paired('align --safetensors', (a, t, [o, p]) => ['align', a, b, '--method', 'weight', '-o', o!, '--perm-out', p!, '--safetensors', t, '--quiet'], ['aligned.onnx', 'perms.json']),
  paired('lmc --out', (a, t, [h]) => [...withA(report('lmc'), a), '--out', t, '--html', h!], ['report.html']),
  paired('lmc --html', (a, t, [o]) => [...withA(report('lmc'), a), '--out', o!, '--html', t], ['report.json']),
  { name: 'analyze --out', build: (a, _dir, t) => ({ argv: [...withA(report('analyze'), a), '--out', t], others: [] }) },
  paired('analyze --html', (a, t, [o]) => [...withA(report('analyze'), a), '--out', o!, '--html', t], ['report.json']),
  { name: 'lmc --plots', folder: true, build: (a, _dir, t) => ({ argv: [...withA(report('lmc'), a), '--plots', t], others: [] }) },
];

/**
 * The output cases: each target met by two or three output slots in rotation (folder slots
 * only by targets that fit them). Device targets need root; without it they are left out and
 * `skipped` says so.
 */
export function outputCases(ws: Workspace): { cases: FuzzCase[]; skipped: string[] } {
  const cases: FuzzCase[] = [];
  const skipped: string[] = [];
  const devices = canMakeDevices(ws.root);
  const fileSlots = SLOTS.filter((s) => !s.folder);
  const twoOutputs = fileSlots.filter((s) => s.pair);
  let turn = 0;
  for (const target of TARGETS) {
    if (target.device && !devices) {
      skipped.push(`${target.name}: this user may not create device nodes (mknod needs root)`);
      continue;
    }
    const slots = target.twice ? twoOutputs : fileSlots;
    const chosen = [slots[turn++ % slots.length]!, slots[turn++ % slots.length]!, ...(target.folder ? SLOTS.filter((s) => s.folder) : [])];
    for (const slot of chosen) {
      const dir = ws.caseDir(`output-${target.name}-${slot.name}`);
      const a = join(dir, 'a.onnx');
      copyFileSync(fixture('models', 'cnn_bn_a.onnx'), a);
      const planted = target.plant(dir, a);
      const { argv, others } = slot.build(a, dir, planted.path, target.twice ?? false);
      cases.push({
        name: `output ${slot.name} → ${target.name}`,
        family: 'output',
        argv,
        outputs: [planted.path, ...others],
        writes: [...planted.writes, ...others],
        ...(target.mustRefuse ? { mustRefuse: target.mustRefuse } : {}),
        watch: ws.watch(dir),
      });
    }
  }
  return { cases, skipped };
}
