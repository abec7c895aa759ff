/**
 * The shapes of analysis results (what the checks produce and the report renders; JSON schema:
 * schema/report-v1.schema.json). Ground level: imports nothing of llfc.
 */

export interface LmcBarriers {
  /** max_α [L(α) − ((1−α)L(0) + αL(1))] */
  readonly loss: number;
  /** max_α L(α) − ½(L(0) + L(1)) (Git Re-Basin) */
  readonly lossMidpoint: number;
  /** max_α [((1−α)Acc(0) + αAcc(1)) − Acc(α)] */
  readonly accuracy: number;
}

export interface LmcResult {
  readonly alphas: number[];
  /** Mean cross-entropy per α. */
  readonly loss: number[];
  /** Top-1 accuracy per α, as a fraction. */
  readonly accuracy: number[];
  /** null when the α values do not include both endpoints. */
  readonly barriers: LmcBarriers | null;
  readonly samples: number;
  /** For token labels (a sequence model): the labelled positions the loss and accuracy average over. */
  readonly tokens?: number;
}

/** LLFC at one α (SCIENCE.md §2). */
export interface LlfcPoint {
  readonly alpha: number;
  /** Mean over samples of d(f(θ(α)), (1−α)f(θ_A) + αf(θ_B)). */
  readonly distance: number;
  /** Population std over samples of that distance. */
  readonly distanceStd: number;
  /** Mean over samples of ⟨a, m⟩ / ‖m‖² (estimates 1/c). */
  readonly coefficient: number;
  /** Samples skipped because a norm was 0. */
  readonly skipped: number;
}

/** Weak additivity of an activation at one α (SCIENCE.md §3). */
export interface WeakAdditivityPoint {
  readonly alpha: number;
  readonly distance: number;
  readonly skipped: number;
}

/** LEWC at one α (SCIENCE.md §6): the LLFC measures against the target (1−α)^ℓ·f_A + α^ℓ·f_B. */
export type LewcPoint = LlfcPoint;

/** LEWC of one layer (Ito et al. 2025). */
export interface LewcReport {
  /** ℓ: linear layers (Gemm, MatMul with a weight, Conv) on the longest path from the input. */
  readonly linearDepth: number;
  /** 2^−(ℓ−1): LLFC's scale coefficient at α = ½ that LEWC predicts. */
  readonly predictedCoefficient: number;
  readonly points: LewcPoint[];
}

export type LayerKind = 'activation' | 'add' | 'attention' | 'logits' | 'other';

/** Per-layer checks for one tapped tensor. */
export interface LayerReport {
  /** The ONNX tensor (graph value) name. */
  readonly name: string;
  /** The ONNX node that computes it. */
  readonly node: string;
  readonly op: string;
  /** PyTorch module path recovered from the node name ("/layer1/0/conv1/Conv" → "layer1.0.conv1"), or null. */
  readonly module: string | null;
  readonly kind: LayerKind;
  /** Position of the layer in graph order among the reported layers (0 = shallowest). */
  readonly depth: number;
  readonly llfc: LlfcPoint[];
  /** Mean over samples of d(f_A, f_B). */
  readonly baseline: number;
  readonly baselineSkipped: number;
  /** Where the layer's samples are tokens (SCIENCE.md §7): how many its statistics average over (N·T; the data's samples are the N sequences). */
  readonly tokens?: number;
  /** Activations only. */
  readonly weakAdditivity?: WeakAdditivityPoint[];
  readonly weakAdditivityBaseline?: number;
  /** Only with the LEWC check on (`lewc: true`), for layers of depth ℓ ≥ 1. */
  readonly lewc?: LewcReport;
}

/** Commutativity of one linear layer (SCIENCE.md §4). */
export interface CommutativityReport {
  /** The ONNX node (Gemm, MatMul or Conv). */
  readonly node: string;
  /** The weight initializer's name (in A). */
  readonly weight: string;
  readonly op: string;
  readonly module: string | null;
  /** ‖X − Y‖²_F / (‖X‖_F‖Y‖_F) with X = W_A H_A + W_B H_B, Y = W_A H_B + W_B H_A. */
  readonly distCom: number;
  /** ‖W_A − W_B‖² / (‖W_A‖‖W_B‖). */
  readonly distW: number;
  /** ‖H_A − H_B‖² / (‖H_A‖‖H_B‖). */
  readonly distH: number;
}

/** Temperature calibration of an LMC curve (Ito et al. 2025; SCIENCE.md §6). */
export interface CalibrationResult {
  /** Where T was fitted: a separate calibration set, or the evaluation data itself (optimistic). */
  readonly fittedOn: 'calibration' | 'evaluation';
  /** The calibration set's files, when it is separate. */
  readonly source?: string;
  /** Samples T was fitted on. */
  readonly samples: number;
  readonly alphas: number[];
  /** T per α (each model its own): a number, or 'infinity' where no finite T lowers the loss. */
  readonly temperature: (number | 'infinity')[];
  /** Mean cross-entropy of logits/T(α) on the evaluation data. */
  readonly loss: number[];
  /** The LMC loss barriers of the calibrated curve; null without α = 0 and 1. */
  readonly barriers: { readonly loss: number; readonly lossMidpoint: number } | null;
}

/** REPAIR of the interpolated models (Jordan et al. 2023; SCIENCE.md §6) and the repaired LMC curve. */
export interface RepairResult {
  /** 'fold': the correction folded into each hidden linear layer; 'batchnorm': the graph keeps its BatchNorm nodes, whose statistics are reset. */
  readonly form: 'fold' | 'batchnorm';
  /** Where μ and σ were measured: a separate statistics set (--repair-data), or the evaluation data's first samples. */
  readonly statistics: 'repair' | 'evaluation';
  /** The statistics set's files. */
  readonly source: string;
  /** Samples of it the statistics cover. */
  readonly samples: number;
  /** ε of σ̃ = √(σ² + ε), under θ(α)'s and the endpoints' σ alike. */
  readonly epsilon: number;
  /** The layers corrected (module paths, else node names), in graph order. */
  readonly layers: string[];
  /** Loss and accuracy of the repaired θ(α) on the evaluation data, and its barriers. */
  readonly lmc: LmcResult;
}

/** Everything `analyze` measures for one pair. */
export interface PairAnalysis {
  /** null when there are no labels (LLFC and the mechanism checks still run). */
  readonly lmc: LmcResult | null;
  /** α values of the per-layer checks. */
  readonly alphas: number[];
  readonly layers: LayerReport[];
  readonly commutativity: CommutativityReport[];
  /** Only with the calibration check on (`calibrate: true`) and labels. */
  readonly calibration?: CalibrationResult;
  /** Only with REPAIR on (`repair: true`) and labels. */
  readonly repair?: RepairResult;
  /** Samples the per-layer checks used. */
  readonly samples: number;
}

/** Loss and accuracy of one model, and its barriers against the endpoints' mean (SCIENCE.md §6). */
export interface LayerwisePoint {
  readonly loss: number;
  /** Top-1 accuracy, as a fraction. */
  readonly accuracy: number;
  /** L(θ) − ½(L_A + L_B). */
  readonly lossBarrier: number;
  /** Err(θ) − ½(Err_A + Err_B), Err = 1 − accuracy. */
  readonly errorBarrier: number;
}

/** One group of tensors interpolated together (a layer, or a module prefix). */
export interface LayerwiseGroup {
  /** The module path (`layer1.0.conv1`) or prefix (`layer1`); without a module path, the ONNX node. */
  readonly name: string;
  /** The ONNX initializers it holds (per use: a tensor two groups read is listed in both). */
  readonly tensors: string[];
  /** Parameter elements. */
  readonly size: number;
}

/** θ_{S,k} with S one group, for both bases. */
export interface LayerwiseLayer {
  readonly group: string;
  /** Base A: every other tensor from A. */
  readonly a: LayerwisePoint;
  readonly b: LayerwisePoint;
}

export type LayerwiseOrder = 'shallow-to-deep' | 'deep-to-shallow' | 'random';

/** Cumulative barriers: S grows one group at a time in `groups` order; point i holds the first i + 1 groups. */
export interface CumulativeCurve {
  readonly order: LayerwiseOrder;
  /** Random orders: which draw (0-based) of the seeded generator. */
  readonly draw?: number;
  /** Group indices in the order they are added. */
  readonly groups: number[];
  readonly a: LayerwisePoint[];
  readonly b: LayerwisePoint[];
}

/** Layer-wise and cumulative barriers (Adilova et al. 2024; SCIENCE.md §6). */
export interface LayerwiseResult {
  readonly groupBy: 'layer' | 'module';
  /** Groups in graph order (shallow → deep by first use). */
  readonly groups: LayerwiseGroup[];
  /** Initializers in no group (with explicit module prefixes): always from the base model. */
  readonly ungrouped: string[];
  readonly endpoints: { readonly a: { loss: number; accuracy: number }; readonly b: { loss: number; accuracy: number } };
  /** θ(½) with every grouped tensor interpolated (S = all groups; base A when some are ungrouped). */
  readonly midpoint: LayerwisePoint;
  readonly layers: LayerwiseLayer[];
  readonly cumulative: CumulativeCurve[];
  readonly seed: number;
  readonly draws: number;
  readonly samples: number;
  /** Evaluation passes over the data (distinct models measured). */
  readonly passes: number;
}

/** A summary of the permutation spec used for alignment. */
/** The kinds of permutation symmetry a spec holds (SCIENCE.md §5, §7). */
export type SymmetryKind = 'residual stream' | 'hidden' | 'heads' | 'within-head' | 'experts' | 'expert hidden';

export interface SpecSummary {
  readonly groups: { readonly name: string; readonly size: number; readonly tensors: number; readonly symmetry?: SymmetryKind }[];
  readonly fixed: { readonly tensor: string; readonly axis: number; readonly reason: string }[];
  /** The kinds of symmetry used, in order of first group: how many groups and units of each. */
  readonly symmetries?: { readonly kind: SymmetryKind; readonly groups: number; readonly units: number }[];
}

/** The aligned pair's results next to the naive ones. */
/** One residual stream's orthogonal map as a report shows it. */
export interface OrthogonalSummary {
  readonly label: string;
  readonly size: number;
  /** Whether the map keeps the all-ones direction (LayerNorms read the stream). */
  readonly keepsOnes: boolean;
  /** Σ ⟨a, O·b⟩ over the stream vectors, and the same with O = identity. */
  readonly objective: number;
  readonly initialObjective: number;
  /** Norm scales folded into their readers. */
  readonly norms: number;
}

/** How an alignment is named in reports: the matching, and `+ orthogonal` when a stream map followed. */
export function alignmentName(a: Pick<AlignedAnalysis, 'method' | 'orthogonal'>): string {
  return `${a.method} matching${a.orthogonal ? ' + orthogonal' : ''}`;
}

export interface AlignedAnalysis extends PairAnalysis {
  readonly method: 'weight' | 'activation';
  readonly spec: SpecSummary;
  /** Present when B was aligned by the permutations and then an orthogonal map of each residual stream (lib/align/orthogonal.ts). */
  readonly orthogonal?: readonly OrthogonalSummary[];
  /** Weight matching: the objective after each sweep. */
  readonly objective?: number[];
}
