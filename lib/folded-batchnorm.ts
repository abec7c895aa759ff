/**
 * Folded BatchNorm: PyTorch's legacy exporter (torch ≤ 2.x `torch.onnx.export` in eval mode)
 * folds each BatchNorm into the Conv before it (W' = W·γ/σ, b' = β − μ·γ/σ + b·γ/σ) and stores
 * the results as new initializers named "onnx::Conv_N". Interpolating such a checkpoint
 * interpolates the folded weights, which is not the interpolation of the PyTorch state_dicts
 * (SCIENCE.md: a ResNet-18 midpoint gave 14.06% accuracy folded vs 9.38% with BatchNorm kept).
 * An export with `training=torch.onnx.TrainingMode.PRESERVE` keeps the BatchNormalization nodes.
 */
import type { Checkpoint } from './checkpoint.js';

/** The convolutions of a checkpoint that hold a folded BatchNorm. */
export interface FoldedBatchNorm {
  /** The Conv nodes whose weight is an exporter-made "onnx::Conv_N" initializer, in graph order. */
  readonly convs: string[];
}

/** What a result says about the checkpoints it measured, beside the measurements. */
export interface CheckpointNotes {
  /** Present when the checkpoints have BatchNorm folded into their convolutions. */
  readonly foldedBatchNorm?: FoldedBatchNorm;
}

const CONV_OPS = new Set(['Conv', 'ConvTranspose']);

/** The convolutions with BatchNorm folded in, or undefined when there are none. */
export function foldedBatchNorm(checkpoint: Checkpoint): FoldedBatchNorm | undefined {
  const convs = checkpoint.parameters.filter((p) => CONV_OPS.has(p.op) && p.inputIndex === 1 && p.tensor.startsWith('onnx::')).map((p) => p.node);
  return convs.length > 0 ? { convs: [...new Set(convs)] } : undefined;
}

/** The notes of a pair (A and B pair by structure, so A speaks for both). */
export function checkpointNotes(a: Checkpoint): CheckpointNotes {
  const folded = foldedBatchNorm(a);
  return folded ? { foldedBatchNorm: folded } : {};
}

/** The warning lines the CLI prints for what the notes say about checkpoint `file` (none when there is nothing to say). */
export function warnings(file: string, notes: CheckpointNotes): string[] {
  const folded = notes.foldedBatchNorm;
  if (!folded) return [];
  return [
    `warning: ${file} has BatchNorm folded into ${folded.convs.length} convolution${folded.convs.length === 1 ? '' : 's'} (an eval-mode export), ` +
      'so θ(α) interpolates the folded weights, not the PyTorch state_dicts; export with training=torch.onnx.TrainingMode.PRESERVE to keep BatchNorm',
  ];
}
