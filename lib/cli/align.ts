/** `llfc align A.onnx B.onnx --method weight|activation -o B_aligned.onnx`: B's hidden units permuted to match A. */
import { Command, Option } from 'commander';
import type { AlignMethod, AlignSymmetry } from '../align/index.js';
import type { CorrelationForm } from '../align/activation-matching.js';
import { alignFiles, type AlignFilesResult } from '../api.js';
import { InvalidArgumentError } from '../errors.js';
import { warnings } from '../folded-batchnorm.js';
import { optionDefault, OPTIONS } from '../options.js';
import { datasetOptionsFromFlags } from './data-options.js';
import { parseNumber } from './parse.js';
import { withProgress } from './report-output.js';
import { checkOutputs, type DeclaredOutput } from '../outputs.js';
import type { AlignmentOutputs } from '../align/output.js';
import { addShardOption, runShardFromFlags, type ShardFlags } from './shard.js';
import { parseInputShape, PERMUTE_CONSTANTS_HELP } from './spec.js';
import { fixed, formatTable } from '../present/text.js';

export interface AlignFlags extends ShardFlags {
  method: AlignMethod;
  symmetry?: AlignSymmetry;
  orthogonalOut?: string;
  orthogonalNpy?: string;
  output?: string;
  out?: string;
  permOut?: string;
  safetensors?: string;
  seed?: string;
  maxSweeps?: string;
  correlation?: CorrelationForm;
  permuteConstants?: boolean;
  data?: string[];
  dataKey?: string;
  mean?: string;
  std?: string;
  limit?: string;
  allowNonfinite?: boolean;
  batchSize?: string;
  inputShape?: string;
  json?: boolean;
  quiet?: boolean;
}

/** `out.onnx` → `out.<suffix>` (a sibling named after the aligned model). */
export function sibling(onnx: string, suffix: string): string {
  return `${onnx.replace(/\.onnx$/i, '')}.${suffix}`;
}

export function alignSummary(a: string, b: string, result: Pick<AlignFilesResult, 'spec' | 'weightMatching' | 'activationMatching' | 'objective' | 'initialObjective' | 'permutations' | 'orthogonal'>): string {
  const lines: string[] = [];
  const groups = result.spec.groups.length;
  if (result.weightMatching) {
    const wm = result.weightMatching;
    lines.push(`weight matching of ${b} to ${a}: ${groups} groups, ${wm.sweeps} sweeps (${wm.converged ? 'converged' : 'stopped at --max-sweeps'})`);
    lines.push(
      formatTable(
        ['sweep', 'objective', 'gain'],
        [['start', fixed(wm.initialObjective, 6), ''], ...wm.objective.map((o, k) => [String(k + 1), fixed(o, 6), wm.gains[k]!.toExponential(3)])],
      ),
    );
  } else if (result.activationMatching) {
    const am = result.activationMatching;
    lines.push(`activation matching (${am.correlation}) of ${b} to ${a} on ${am.samples} samples: ${groups} groups`);
    lines.push(`Σ matched correlation ${fixed(result.objective[0]!, 6)} (identity: ${fixed(result.initialObjective, 6)})`);
    const ties = am.tiesBrokenByWeights.reduce((s, n) => s + n, 0);
    if (ties > 0) lines.push(`${ties} units dead on the data were matched by their weights`);
    if (am.skipped.length > 0) lines.push(`left in place (no activation carries them): ${am.skipped.map((s) => s.label).join(', ')}`);
  }
  for (const s of result.orthogonal ?? []) {
    const norms = s.norms.length;
    lines.push(
      `orthogonal map of the residual stream (group ${s.group}, ${s.size} units${s.keepsOnes ? ', keeping the all-ones direction for its LayerNorms' : ''}): Σ⟨a, O·b⟩ ${fixed(s.initialObjective, 6)} → ${fixed(s.objective, 6)}; ${norms} norm scale${norms === 1 ? '' : 's'} folded into ${s.norms.reduce((n, x) => n + x.readers.length, 0)} readers, written in A's gauge`,
    );
  }
  const moved = result.permutations.reduce((n, p) => n + p.reduce((m, v, i) => m + (v !== i ? 1 : 0), 0), 0);
  const units = result.spec.groups.reduce((n, g) => n + g.size, 0);
  lines.push(`${moved} of ${units} units moved`);
  return lines.join('\n');
}

export function alignCommand(): Command {
  const command = new Command('align')
    .description("permute B's hidden units to match A (Git Re-Basin weight or activation matching over the inferred spec); writes the aligned ONNX, the permutations and the parameters")
    .argument('<a>', 'reference checkpoint A (ONNX)')
    .argument('<b>', 'checkpoint B (ONNX), to be aligned to A')
    .addOption(new Option('--method <method>', 'weight matching or activation matching').choices(OPTIONS.method.values).makeOptionMandatory())
    .addOption(
      new Option('--symmetry <kind>', `permutations only, or permutations then an orthogonal map of each residual stream (transformers: norm scales folded, Procrustes on the weights or the activations) (default ${optionDefault('symmetry')})`).choices(
        OPTIONS.symmetry.values,
      ),
    )
    .option('-o, --output <file>', 'the aligned B as ONNX (required, but with --shard)')
    .option('--perm-out <file>', 'the permutations as JSON (default: <output>.perms.json)')
    .option('--safetensors <file>', 'the aligned parameters under PyTorch names (default: <output>.safetensors)')
    .option('--orthogonal-out <file>', 'with --symmetry orthogonal: the orthogonal maps as JSON (default: <output>.orthogonal.json)')
    .option('--orthogonal-npy <file>', 'with --symmetry orthogonal: the maps as a float64 .npy array, streams × d × d (default: <output>.orthogonal.npy)')
    .option('--seed <n>', `weight matching: seed of the group order (default ${optionDefault('seed')})`)
    .option('--max-sweeps <n>', `weight matching: at most this many sweeps (default ${optionDefault('maxSweeps')})`)
    .addOption(new Option('--correlation <form>', `activation matching: Σ z_A z_Bᵀ or the Pearson coefficients (default ${optionDefault('correlation')})`).choices(OPTIONS.correlation.values))
    .option('--data <files...>', 'activation matching: the inputs both models run on (.npy, .npz, IDX, CIFAR-10 .bin)')
    .option('--data-key <name>', 'array name inside an .npz data file')
    .option('--mean <values>', 'normalize: per-channel mean, comma separated (after uint8 → x/255)')
    .option('--std <values>', 'normalize: per-channel std, comma separated')
    .option('--limit <n>', 'use only the first n samples')
    .option('--allow-nonfinite', 'measure even when the data holds NaN or ±Inf (by default an error naming the sample)')
    .option('--batch-size <n>', `samples per onnxruntime run (default ${optionDefault('batchSize')})`)
    .option('--input-shape <dims>', 'input shape to probe the graph with, batch included')
    .option('--permute-constants', PERMUTE_CONSTANTS_HELP)
    .option('--json', 'print the permutations file as JSON on stdout')
    .option('--quiet', 'print nothing but errors')
    .option('--out <file>', "with --shard: the shard's partial file");
  addShardOption(command);
  return command.action(async (a: string, b: string, flags: AlignFlags) => {
    if (flags.method === 'activation' && !flags.data) throw new InvalidArgumentError('activation matching needs data: give the inputs both models run on (--data)');
    if (flags.method === 'weight' && flags.data) throw new InvalidArgumentError('--data is for --method activation; weight matching reads the weights only');
    const options = {
      method: flags.method,
      symmetry: flags.symmetry,
      seed: parseNumber(flags.seed, '--seed'),
      maxSweeps: parseNumber(flags.maxSweeps, '--max-sweeps'),
      inputShape: parseInputShape(flags.inputShape),
      batchSize: parseNumber(flags.batchSize, '--batch-size'),
      correlation: flags.correlation,
      permuteConstants: flags.permuteConstants,
    };
    const data = flags.data ? datasetOptionsFromFlags({ ...flags, data: flags.data }) : undefined;
    if (flags.symmetry !== 'orthogonal' && (flags.orthogonalOut !== undefined || flags.orthogonalNpy !== undefined)) {
      throw new InvalidArgumentError('--orthogonal-out and --orthogonal-npy are for --symmetry orthogonal');
    }
    if (flags.shard !== undefined) {
      if (flags.symmetry === 'orthogonal') throw new InvalidArgumentError('--shard with --symmetry orthogonal is not supported: run the alignment whole');
      if (!data) throw new InvalidArgumentError('--shard splits the data of activation matching (--method activation --data …); weight matching reads no data: run it whole');
      return runShardFromFlags('align', a, b, data, options, flags);
    }
    const outputs = alignmentFlags(flags);
    // Checked here too (alignFiles checks again), so that messages name the options.
    await checkOutputs(outputs.declared, [a, b, ...(flags.data ?? [])]);
    const result = await withProgress(flags, (control) => alignFiles({ a, b, ...(data ? { data } : {}), outputs: outputs.files }, { ...options, ...control }));
    printAlignment(a, b, result, outputs.files, flags);
  });
}

/** The files -o, --perm-out and --safetensors name (the last two default to siblings of -o), and with --symmetry orthogonal the maps' files. */
export function alignmentFlags(flags: Pick<AlignFlags, 'output' | 'permOut' | 'safetensors' | 'symmetry' | 'orthogonalOut' | 'orthogonalNpy'>): { files: WrittenFiles; declared: DeclaredOutput[] } {
  if (flags.output === undefined) throw new InvalidArgumentError("required option '-o, --output <file>' not specified");
  const permutations = flags.permOut ?? sibling(flags.output, 'perms.json');
  const safetensors = flags.safetensors ?? sibling(flags.output, 'safetensors');
  const declared: DeclaredOutput[] = [
    { path: flags.output, label: '--output' },
    { path: permutations, label: '--perm-out' },
    { path: safetensors, label: '--safetensors' },
  ];
  if (flags.symmetry !== 'orthogonal') return { files: { onnx: flags.output, permutations, safetensors }, declared };
  const orthogonal = flags.orthogonalOut ?? sibling(flags.output, 'orthogonal.json');
  const orthogonalNpy = flags.orthogonalNpy ?? sibling(flags.output, 'orthogonal.npy');
  declared.push({ path: orthogonal, label: '--orthogonal-out' }, { path: orthogonalNpy, label: '--orthogonal-npy' });
  return { files: { onnx: flags.output, permutations, safetensors, orthogonal, orthogonalNpy }, declared };
}

/** The outputs an alignment always writes, and the maps' files when it has orthogonal maps. */
type WrittenFiles = Required<Pick<AlignmentOutputs, 'onnx' | 'permutations' | 'safetensors'>> & AlignmentOutputs;

/** Prints what an alignment found and wrote (the permutations file with --json). */
export function printAlignment(a: string, b: string, result: AlignFilesResult, files: WrittenFiles, flags: { json?: boolean; quiet?: boolean }): void {
  const written = result.written;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result.permutationsJson, null, 1)}\n`);
    return;
  }
  if (flags.quiet) return;
  const notes: string[] = [];
  if (written.untied.length > 0) notes.push(`untied ${written.untied.length} shared tensor(s) whose uses are permuted differently: ${written.untied.map((u) => u.tensor).join(', ')}`);
  if (written.folded.length > 0) {
    notes.push(
      `${written.folded.length} Conv tensors have BatchNorm folded in (eval export, renamed 'onnx::…'); their safetensors keys come from the node scopes and they load into a model whose BatchNorms are folded, not into the original state_dict`,
    );
  }
  if (written.unnamed.length > 0) notes.push(`no PyTorch name for ${written.unnamed.length} tensor(s), kept under their ONNX names: ${written.unnamed.slice(0, 5).join(', ')}${written.unnamed.length > 5 ? ', …' : ''}`);
  if (written.conflicts.length > 0) notes.push(`keys with differently permuted uses, written as key#use<k>: ${written.conflicts.join(', ')}`);
  process.stdout.write(
    `${alignSummary(a, b, result)}\naligned model written to ${files.onnx}; permutations to ${files.permutations}; parameters (PyTorch names) to ${files.safetensors}${files.orthogonal ? `; orthogonal maps to ${files.orthogonal} and ${files.orthogonalNpy}` : ''}\n` +
      warnings(a, result).map((w) => `${w}\n`).join('') +
      notes.map((n) => `note: ${n}\n`).join(''),
  );
}
