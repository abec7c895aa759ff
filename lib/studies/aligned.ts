/**
 * A pair naive and aligned (SCIENCE.md §5, then §1–4 and §6): the checks run on A and B as
 * trained, B is aligned to A by permutation (weight or activation matching), and the checks run
 * again on A and the aligned B with the same options. In-process; the worker's `analyze` task
 * and `analyzeAligned` run it too.
 */
import type { AlignMethod, AlignSymmetry, CorrelationForm } from '../align/index.js';
import { align } from '../align/index.js';
import { summarizeSpec } from '../align/summary.js';
import type { Checkpoint } from '../checkpoint.js';
import { analyzePair, type AnalyzeOptions } from '../checks/analyze.js';
import type { Dataset } from '../dataset/index.js';
import type { OptionSchema } from '../options.js';
import type { AlignedAnalysis, PairAnalysis } from '../results.js';

/** How to align B to A before the second analysis. */
export interface AlignRequest {
  readonly method: AlignMethod;
  /** Further methods: B aligned to A afresh by each, the pair analyzed again (`llfc analyze --align weight,activation`). */
  readonly alsoAlign?: readonly AlignMethod[];
  readonly correlation?: CorrelationForm;
  readonly seed?: number;
  /** 'orthogonal': each method's permutations analyzed, then the permutations plus an orthogonal map of each residual stream (default 'permutation'). */
  readonly symmetry?: AlignSymmetry;
}

/** The option kinds of an {@link AlignRequest} (defaults and validation: lib/options.ts). */
export const ALIGN_REQUEST_OPTIONS = { method: 'method', alsoAlign: 'alsoAlign', correlation: 'correlation', seed: 'seed', symmetry: 'symmetry' } as const satisfies OptionSchema<AlignRequest>;

/** The naive analysis and the aligned one beside it (and those of the further methods). */
export interface NaiveAndAligned {
  readonly naive: PairAnalysis;
  readonly aligned: AlignedAnalysis;
  readonly alsoAligned?: AlignedAnalysis[];
}

/**
 * Analyzes A and B, aligns B to A, and analyzes A and the aligned B (activation matching reads
 * `data`); then the same for each further method, B aligned afresh.
 */
export async function analyzeNaiveAndAligned(a: Checkpoint, b: Checkpoint, data: Dataset, alignment: AlignRequest, options: AnalyzeOptions = {}): Promise<NaiveAndAligned> {
  const naive = await analyzePair(a, b, data, options);
  const { method, alsoAlign, correlation, seed, symmetry } = alignment;
  const { signal, onProgress, batchSize } = options;
  const alignedBy = async (by: AlignMethod): Promise<AlignedAnalysis[]> => {
    const result = await align(a, b, {
      method: by,
      ...(by === 'activation' ? { data, ...(batchSize ? { batchSize } : {}) } : {}),
      ...(correlation ? { correlation } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(symmetry ? { symmetry } : {}),
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    const spec = summarizeSpec(result.spec);
    const permuted = await analyzePair(a, result.permuted ?? result.aligned, data, options);
    const analyses: AlignedAnalysis[] = [{ ...permuted, method: by, spec, objective: result.objective }];
    if (result.orthogonal) {
      const orthogonal = result.orthogonal.map((s) => ({ label: s.label, size: s.size, keepsOnes: s.keepsOnes, objective: s.objective, initialObjective: s.initialObjective, norms: s.norms.length }));
      analyses.push({ ...(await analyzePair(a, result.aligned, data, options)), method: by, spec, objective: result.objective, orthogonal });
    }
    return analyses;
  };
  const [aligned, ...rest] = await alignedBy(method);
  for (const by of alsoAlign ?? []) rest.push(...(await alignedBy(by)));
  return rest.length > 0 ? { naive, aligned: aligned!, alsoAligned: rest } : { naive, aligned: aligned! };
}
