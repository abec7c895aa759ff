/**
 * Dense rectangular linear sum assignment (scipy.optimize.linear_sum_assignment's problem),
 * solved exactly by the native shortest-augmenting-path solver (native/lap.cc).
 *
 * The cost matrix is row-major `rows × cols`, Float32Array or Float64Array, read in place.
 * min(rows, cols) pairs are returned: `rowInd[k]` is assigned `colInd[k]`, `rowInd` ascending.
 * `+Infinity` (`-Infinity` when maximizing) marks a forbidden pair; NaN, and the infinity of
 * the other sign, are invalid.
 */
import { InfeasibleAssignmentError, InvalidArgumentError, NativeError } from './errors.js';
import { native, type NativeLapResult } from './native.js';

export interface LinearSumAssignmentOptions {
  /** Maximize the total instead of minimizing it. Default false. */
  maximize?: boolean;
  /**
   * Warm start: the `colDuals` of an earlier result for a matrix of the same shape, solved with
   * the same `maximize` (typically the previous, slightly different, matrix of an iteration).
   * Any finite values give the exact optimum; good ones save most of the work. When too few
   * rows keep their column under these duals, the solver falls back to a cold start
   * (`warmStarted` is then false). Only square matrices are warm-started: a rectangular solve
   * checks the duals and starts cold (see native/lap.cc for why).
   */
  warmStart?: Float64Array;
}

/** Work counters of one solve. */
export interface LinearSumAssignmentStats {
  /** Rows left unassigned by the initial column reduction or greedy pass. */
  freeAfterInit: number;
  /** Row scans of the (work-capped) augmenting row reduction. */
  arrScans: number;
  /** Rows left for the shortest augmenting path searches. */
  freeAfterArr: number;
  /** Dense passes over a cost row made by those searches. */
  pathPasses: number;
}

export interface LinearSumAssignmentResult {
  /** Row indices, ascending; min(rows, cols) of them. */
  rowInd: Int32Array;
  /** colInd[k] is the column assigned to rowInd[k]. */
  colInd: Int32Array;
  /** Σ cost[rowInd[k], colInd[k]], summed in float64. */
  total: number;
  /**
   * Warm-start state for `options.warmStart` of a later solve: the duals of the larger side,
   * length max(rows, cols) (the column duals when rows ≤ cols).
   */
  colDuals: Float64Array;
  /** Whether `options.warmStart` was used (false without one, or after a fallback to cold). */
  warmStarted: boolean;
  stats: LinearSumAssignmentStats;
}

/** A dense cost matrix in row-major order. */
export type Cost = Float32Array | Float64Array;

interface Checked {
  maximize: boolean;
  warm: Float64Array | null;
}

const MAX_SIDE = 2 ** 31 - 1;

function checkSize(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SIDE) {
    throw new InvalidArgumentError(`linearSumAssignment: ${name} must be an integer in [0, 2^31), got ${String(value)}`);
  }
  return value;
}

function check(cost: unknown, rows: unknown, cols: unknown, options: LinearSumAssignmentOptions | undefined): Checked {
  if (!(cost instanceof Float32Array) && !(cost instanceof Float64Array)) {
    const what = cost === null ? 'null' : ArrayBuffer.isView(cost) ? cost.constructor.name : typeof cost;
    throw new InvalidArgumentError(`linearSumAssignment: cost must be a Float32Array or Float64Array, got ${what}`);
  }
  const r = checkSize(rows, 'rows');
  const c = checkSize(cols, 'cols');
  if (r * c !== cost.length) {
    throw new InvalidArgumentError(`linearSumAssignment: cost has ${cost.length} elements, rows·cols = ${r}·${c} = ${r * c}`);
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidArgumentError('linearSumAssignment: options must be an object');
  }
  const maximize = options?.maximize ?? false;
  if (typeof maximize !== 'boolean') {
    throw new InvalidArgumentError(`linearSumAssignment: options.maximize must be a boolean, got ${String(maximize)}`);
  }
  const warm = options?.warmStart ?? null;
  if (warm !== null) {
    if (!(warm instanceof Float64Array)) {
      throw new InvalidArgumentError('linearSumAssignment: options.warmStart must be a Float64Array (a previous result\'s colDuals)');
    }
    const want = Math.max(r, c);
    if (warm.length !== want) {
      throw new InvalidArgumentError(
        `linearSumAssignment: options.warmStart has ${warm.length} duals, this ${r}×${c} problem needs max(rows, cols) = ${want}`,
      );
    }
    for (let k = 0; k < warm.length; k++) {
      if (!Number.isFinite(warm[k])) {
        throw new InvalidArgumentError(`linearSumAssignment: options.warmStart[${k}] = ${warm[k]} is not finite`);
      }
    }
  }
  return { maximize, warm };
}

/** Turns an addon failure (a NativeError from lib/native.ts) into the library's typed errors. */
function translate(error: unknown): Error {
  if (!(error instanceof NativeError)) return error as Error;
  const cause = error.cause instanceof Error ? error.cause.message : error.message;
  const message = cause.replace(/^llfc native: /, '');
  switch (error.code) {
    case 'LAP_NAN':
    case 'LAP_BAD_INFINITY':
    case 'LAP_INVALID_ARGUMENT':
    case 'NATIVE_ARGUMENT':
      return new InvalidArgumentError(`linearSumAssignment: ${message}`);
    case 'LAP_INFEASIBLE':
      return new InfeasibleAssignmentError(`linearSumAssignment: ${message}`, error.row, error.col);
    default:
      return new NativeError(`linearSumAssignment: ${message}`, { cause: error });
  }
}

function wrap(r: NativeLapResult): LinearSumAssignmentResult {
  return {
    rowInd: r.rowInd,
    colInd: r.colInd,
    total: r.total,
    colDuals: r.colDuals,
    warmStarted: r.warmStarted,
    stats: { ...r.stats },
  };
}

/**
 * Solves the assignment problem for the row-major `rows × cols` cost matrix, exactly.
 * Throws InvalidArgumentError (bad sizes or types, NaN, an infinity of the wrong sign; the
 * message names the entry) or InfeasibleAssignmentError (forbidden pairs leave no complete
 * assignment).
 */
export function linearSumAssignment(
  cost: Cost,
  rows: number,
  cols: number,
  options?: LinearSumAssignmentOptions,
): LinearSumAssignmentResult {
  const { maximize, warm } = check(cost, rows, cols, options);
  let r: NativeLapResult;
  try {
    r = native().lap(cost, rows, cols, maximize, warm);
  } catch (error) {
    throw translate(error);
  }
  return wrap(r);
}

/**
 * linearSumAssignment on a libuv worker thread, so the event loop keeps running. `cost` and
 * `options.warmStart` are copied at the call: writing to or transferring them afterwards does
 * not change the result. Validation errors reject the promise.
 */
export async function linearSumAssignmentAsync(
  cost: Cost,
  rows: number,
  cols: number,
  options?: LinearSumAssignmentOptions,
): Promise<LinearSumAssignmentResult> {
  const { maximize, warm } = check(cost, rows, cols, options);
  let r: NativeLapResult;
  try {
    r = await native().lapAsync(cost, rows, cols, maximize, warm);
  } catch (error) {
    throw translate(error);
  }
  return wrap(r);
}
