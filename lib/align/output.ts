/**
 * Writing an alignment: the aligned ONNX model, the permutations as JSON, and the aligned
 * parameters as .safetensors under PyTorch state-dict keys, written together through the
 * output gate (lib/outputs.ts).
 */
import type { Checkpoint } from '../checkpoint.js';
import type { CheckpointNotes } from '../folded-batchnorm.js';
import { modelFiles, modelOutputs } from '../onnx/external-output.js';
import { checkOutputs, commitOutputs, type DeclaredOutput, type OutputFile } from '../outputs.js';
import type { AlignResult } from './index.js';
import { torchStateDict } from './names.js';
import { permutedModel, permutationsToJson } from './permute.js';
import { safetensorsPieces } from './safetensors.js';
import { encodeNpyFloat64 } from '../dataset/npy.js';
import { OrthogonalError } from '../errors.js';
import type { StreamMap } from './orthogonal.js';

export interface AlignmentOutputs {
  /** The aligned B as ONNX. */
  readonly onnx?: string;
  /** The permutations as JSON. */
  readonly permutations?: string;
  /** The aligned B's parameters as safetensors. */
  readonly safetensors?: string;
  /** With orthogonal maps: the maps and the norms they changed, as JSON. */
  readonly orthogonal?: string;
  /** With orthogonal maps: the maps as a float64 .npy array (streams × d × d). */
  readonly orthogonalNpy?: string;
}

export interface WrittenAlignment {
  /** Stored tensors of B whose uses got initializers of their own in the ONNX output. */
  readonly untied: readonly { tensor: string; names: string[]; nodes: string[] }[];
  /** safetensors keys of Conv parameters with BatchNorm folded in. */
  readonly folded: readonly string[];
  /** Parameters whose PyTorch name could not be recovered (their ONNX name is the key). */
  readonly unnamed: readonly string[];
  /** Keys written twice with different values ("key#use<k>"). */
  readonly conflicts: readonly string[];
}

/** What an alignment run reports back: everything of AlignResult but the checkpoint and the full spec. */
export interface AlignFilesResult extends Omit<AlignResult, 'aligned' | 'spec'>, CheckpointNotes {
  readonly spec: { readonly groups: readonly { readonly label: string; readonly size: number }[] };
  /** The permutations file's content. */
  readonly permutationsJson: Record<string, unknown>;
  readonly written: WrittenAlignment;
}

/**
 * An alignment's files for `outputs` (to be committed by the caller) and what it reports back.
 * Only A's file name and its notes are taken, so a caller can let A's arena go before the files
 * are rendered.
 */
export function alignFilesResult(a: Pick<Checkpoint, 'file'>, notes: CheckpointNotes, result: AlignResult, outputs: AlignmentOutputs): AlignFilesResult & { readonly files: readonly OutputFile[] } {
  const { files, written } = alignmentFiles(a, result, outputs);
  return {
    files,
    method: result.method,
    permutations: result.permutations,
    objective: result.objective,
    initialObjective: result.initialObjective,
    ...(result.weightMatching ? { weightMatching: result.weightMatching } : {}),
    ...(result.activationMatching ? { activationMatching: result.activationMatching } : {}),
    ...(result.orthogonal ? { orthogonal: result.orthogonal } : {}),
    spec: { groups: result.spec.groups.map((g) => ({ label: g.label, size: g.size })) },
    permutationsJson: alignmentJson(a, result),
    written,
    ...notes,
  };
}

/** The permutations file content of an alignment (what `--perm-out` writes). */
export function alignmentJson(a: Pick<Checkpoint, 'file'>, result: AlignResult): Record<string, unknown> {
  const wm = result.weightMatching;
  const am = result.activationMatching;
  return permutationsToJson(result.spec, result.permutations, {
    reference: a.file,
    method: result.method,
    initialObjective: result.initialObjective,
    objective: result.objective,
    ...(wm ? { weightMatching: { sweeps: wm.sweeps, converged: wm.converged, gains: wm.gains, orders: wm.orders } } : {}),
    ...(am
      ? {
          activationMatching: {
            correlation: am.correlation,
            samples: am.samples,
            identityScore: am.identityScore,
            score: am.score,
            tiesBrokenByWeights: am.tiesBrokenByWeights,
            skipped: am.skipped,
          },
        }
      : {}),
    ...(result.orthogonal ? { orthogonal: result.orthogonal.map(streamSummary) } : {}),
  });
}

/** What the permutations file says of an orthogonal map (the map itself is in its own files). */
function streamSummary(s: StreamMap): Record<string, unknown> {
  return {
    group: s.group,
    label: s.label,
    size: s.size,
    keepsOnes: s.keepsOnes,
    initialObjective: s.initialObjective,
    objective: s.objective,
    norms: s.norms.map((n) => ({ node: n.node, kind: n.kind, scale: n.scale.tensor, ...(n.shift ? { shift: n.shift.tensor } : {}), readers: n.readers.map((r) => r.tensor) })),
  };
}

export const ORTHOGONAL_FORMAT = 'llfc-orthogonal';

/** Why the aligned B's norms and readers differ from B's beyond the map: it is written in A's norm gauge. */
export const NORM_GAUGE_NOTE =
  "each norm's scale is A's; the linear layers reading a norm hold B's folded weights divided by A's scale (and the norm's shift B's folded shift times A's scale): the function is B's, and interpolating with A interpolates both with their scales folded into the readers";

/** The orthogonal maps file: per stream, O (row-major rows) applied as v → O·v to every stream vector of B, after the permutations. */
export function orthogonalJson(a: Pick<Checkpoint, 'file'>, result: AlignResult): Record<string, unknown> {
  return {
    format: ORTHOGONAL_FORMAT,
    version: 1,
    convention: "every stream vector v of the permuted B (a row or column along the stream axis of a stream tensor) becomes O·v; O is given row by row",
    model: result.aligned.file,
    reference: a.file,
    method: result.method,
    normGauge: NORM_GAUGE_NOTE,
    streams: (result.orthogonal ?? []).map((s) => ({ ...streamSummary(s), map: Array.from({ length: s.size }, (_, i) => Array.from(s.map.subarray(i * s.size, (i + 1) * s.size))) })),
  };
}

/** The maps as one float64 array, streams × d × d (every stream of one width). */
export function orthogonalNpy(streams: readonly StreamMap[]): Uint8Array {
  const d = streams[0]?.size ?? 0;
  if (streams.some((s) => s.size !== d)) throw new OrthogonalError(`the residual streams have different widths (${streams.map((s) => s.size).join(', ')}): one .npy array cannot hold their maps; leave out --orthogonal-npy and read the JSON file`);
  const all = new Float64Array(streams.length * d * d);
  streams.forEach((s, k) => all.set(s.map, k * d * d));
  return encodeNpyFloat64(all, [streams.length, d, d]);
}

/** The outputs as the output gate takes them (labels as the library names them). */
export function alignmentOutputs(outputs: AlignmentOutputs, externalData: boolean): DeclaredOutput[] {
  return [
    ...(outputs.onnx !== undefined ? modelOutputs(outputs.onnx, 'outputs.onnx', externalData) : []),
    ...(['permutations', 'safetensors', 'orthogonal', 'orthogonalNpy'] as const).flatMap((key) => (outputs[key] !== undefined ? [{ path: outputs[key]!, label: `outputs.${key}` }] : [])),
  ];
}

/**
 * A model given by its parameters (`arena`, the checkpoint's layout) as the ONNX file and the
 * safetensors file (PyTorch state-dict keys, with `metadata`) that `outputs` names, rendered but not
 * written: what `align` and `merge` write.
 */
export function parameterFiles(checkpoint: Checkpoint, arena: Float32Array, outputs: { readonly onnx?: string; readonly safetensors?: string }, metadata: Record<string, string>): { files: OutputFile[]; written: WrittenAlignment } {
  const files: OutputFile[] = [];
  let untied: WrittenAlignment['untied'] = [];
  if (outputs.onnx !== undefined) {
    const written = permutedModel(checkpoint, arena);
    untied = written.untied;
    files.push(...modelFiles(written.model, outputs.onnx, checkpoint.externalData));
  }
  const state = torchStateDict(checkpoint, arena);
  if (outputs.safetensors !== undefined) {
    const meta: Record<string, string> = { format: 'pt', ...metadata };
    if (state.folded.length > 0) {
      meta.folded = `BatchNorm is folded into these Conv parameters (eval export); they load into a model whose BatchNorms are folded, not into the original state_dict: ${state.folded.join(', ')}`;
    }
    files.push({ path: outputs.safetensors, content: safetensorsPieces(state.tensors.map((t) => ({ name: t.key, shape: t.shape, data: t.data })), meta) });
  }
  return { files, written: { untied, folded: state.folded, unnamed: state.unnamed, conflicts: state.conflicts } };
}

/** The files of an alignment that `outputs` names, rendered but not written, and notes on what they hold. */
export function alignmentFiles(a: Pick<Checkpoint, 'file'>, result: AlignResult, outputs: AlignmentOutputs): { files: OutputFile[]; written: WrittenAlignment } {
  const b = result.aligned;
  const metadata = { source: 'llfc align', model: b.file, reference: a.file, method: result.method, ...(result.orthogonal ? { symmetry: 'orthogonal', norms: NORM_GAUGE_NOTE } : {}) };
  const { files, written } = parameterFiles(b, b.arena, outputs, metadata);
  if (outputs.permutations !== undefined) files.push({ path: outputs.permutations, content: `${JSON.stringify(alignmentJson(a, result), null, 1)}\n` });
  if (result.orthogonal && outputs.orthogonal !== undefined) files.push({ path: outputs.orthogonal, content: `${JSON.stringify(orthogonalJson(a, result), null, 1)}\n` });
  if (result.orthogonal && outputs.orthogonalNpy !== undefined) files.push({ path: outputs.orthogonalNpy, content: orthogonalNpy(result.orthogonal) });
  return { files, written };
}

/** Writes the outputs of an alignment together through the output gate, never over A's or B's file. */
export async function writeAlignment(a: Checkpoint, result: AlignResult, outputs: AlignmentOutputs): Promise<WrittenAlignment> {
  const plan = await checkOutputs(alignmentOutputs(outputs, result.aligned.externalData), [a.file, result.aligned.file]);
  const { files, written } = alignmentFiles(a, result, outputs);
  await commitOutputs(plan, files);
  return written;
}
