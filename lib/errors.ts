/**
 * Typed errors: one class per kind of failure, each naming what is wrong and where
 * (file, node, tensor, shape). The CLI prints `error.message` and exits non-zero.
 */
export class LlfcError extends Error {
  /** A stable machine-readable code, e.g. "ONNX_FORMAT". */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A file that is not a readable ONNX model (truncated, not protobuf, no graph). */
export class OnnxFormatError extends LlfcError {
  constructor(readonly file: string, detail: string, options?: { cause?: unknown }) {
    super('ONNX_FORMAT', `${file}: not a valid ONNX model: ${detail}`, options);
  }
}

/**
 * A tensor stored in an external data file that is missing, too short, or outside the model's
 * directory. `dataFile` is the location the model names, when it names one.
 */
export class ExternalDataError extends LlfcError {
  constructor(readonly file: string, readonly tensor: string, detail: string, readonly dataFile?: string) {
    super('EXTERNAL_DATA', `${file}: tensor '${tensor}': ${detail}`);
  }
}

/**
 * An output that cannot or must not be written (lib/outputs.ts): an input file, a device node,
 * FIFO, socket, symlink or directory where a file is meant, a missing or unwritable directory,
 * one file named twice, or a write that failed. `file` is the output as the caller named it.
 */
export class OutputError extends LlfcError {
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super('OUTPUT', message, options);
  }
}

/** Data whose element type the model's input does not take (float data for a token model). */
export class InputTypeError extends LlfcError {
  constructor(message: string) {
    super('INPUT_TYPE', message);
  }
}

/**
 * onnxruntime failed while running a model (or a helper graph built from it) on a batch: most
 * often data whose shape the model's symbolic input dims let through but its layers do not take.
 */
export class ModelRunError extends LlfcError {
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super('MODEL_RUN', message, options);
  }
}

/** Two checkpoints that are not the same architecture. */
export class CheckpointMismatchError extends LlfcError {
  constructor(
    message: string,
    readonly node?: string,
    readonly tensor?: string,
    readonly shapes?: [readonly number[], readonly number[]],
  ) {
    super('CHECKPOINT_MISMATCH', message);
  }
}

/** A parameter tensor holding NaN or ±Inf. */
export class NonFiniteParameterError extends LlfcError {
  constructor(readonly file: string, readonly tensor: string, readonly index: number, value: number) {
    super('NON_FINITE_PARAMETER', `${file}: parameter '${tensor}' holds ${value} at flat index ${index}`);
  }
}

/** A data or label file that cannot be read, or whose content is invalid. */
export class DatasetError extends LlfcError {
  constructor(readonly file: string, detail: string, options?: { cause?: unknown }) {
    super('DATASET', `${file}: ${detail}`, options);
  }
}

/** A data file that holds no samples (its first axis is 0). Caught as a {@link DatasetError} too. */
export class EmptyDatasetError extends DatasetError {
  constructor(file: string, detail = 'holds no samples (0 along the first axis)') {
    super(file, detail);
  }
}

/** Data whose shape does not fit the model's input. */
export class ShapeMismatchError extends LlfcError {
  constructor(message: string) {
    super('SHAPE_MISMATCH', message);
  }
}

/** Labels out of range or of the wrong length. */
export class LabelError extends LlfcError {
  constructor(message: string) {
    super('LABELS', message);
  }
}

/** An invalid option: α outside [0, 1], a non-positive batch size, an unknown layer, … */
export class InvalidArgumentError extends LlfcError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** An option key the entry point does not take (a typo, or a key of another function): `where` names the entry point. */
export class UnknownOptionError extends InvalidArgumentError {
  constructor(
    readonly where: string,
    readonly option: string,
    readonly nearest: string | undefined,
    readonly known: readonly string[],
  ) {
    super(`${where}: unknown option '${option}'${nearest ? `; did you mean '${nearest}'?` : ''} (it takes ${known.join(', ')})`);
  }
}

/** Input data holding NaN or ±Inf (allowed with `allowNonfinite: true` / `--allow-nonfinite`). */
export class NonFiniteDataError extends DatasetError {
  constructor(
    file: string,
    /** Index of the sample in the data (after nothing is skipped: sample 0 is the file's first). */
    readonly sample: number,
    /** Flat index of the value within the sample. */
    readonly feature: number,
    readonly sampleShape: readonly number[],
    readonly value: number,
  ) {
    const position: number[] = [];
    let rest = feature;
    for (let axis = sampleShape.length - 1; axis >= 0; axis--) {
      position.unshift(rest % sampleShape[axis]!);
      rest = Math.floor(rest / sampleShape[axis]!);
    }
    super(
      file,
      `sample ${sample} holds ${value} at feature ${feature}${sampleShape.length > 1 ? ` ([${position.join(', ')}] of its ${sampleShape.join('×')} values)` : ''}: ` +
        'non-finite input makes every loss and distance meaningless; pass allowNonfinite: true (--allow-nonfinite) to measure anyway',
    );
  }
}

/**
 * A model output holding NaN or ±Inf on a batch whose inputs are finite: the model overflows
 * float32 on this data, which would otherwise come out as NaN losses and distances.
 */
export class NonFiniteOutputError extends LlfcError {
  constructor(
    readonly file: string,
    /** The graph output that is not finite. */
    readonly output: string,
    /** Index of the sample in the data. */
    readonly sample: number,
    readonly value: number,
    source: string,
  ) {
    super(
      'NON_FINITE_OUTPUT',
      `${file}: its output '${output}' is ${value} on sample ${sample} of ${source}, whose inputs are finite: ` +
        'the model overflows float32 on this data; is the data scaled as in training (--mean/--std)?',
    );
  }
}

/**
 * An assignment problem whose forbidden pairs (+inf costs, −inf when maximizing) leave no
 * complete assignment. `row` / `col` name the row or column that could not be assigned, when known.
 */
export class InfeasibleAssignmentError extends LlfcError {
  constructor(message: string, readonly row?: number, readonly col?: number) {
    super('INFEASIBLE_ASSIGNMENT', message);
  }
}

/** Two checkpoints whose inferred permutation specs differ (lib/align/spec/); `group` names the first differing group. */
export class SpecMismatchError extends LlfcError {
  constructor(message: string, readonly group?: string) {
    super('SPEC_MISMATCH', message);
  }
}

/** A permutation (or permutation file) that does not fit a model's permutation spec. */
export class PermutationError extends LlfcError {
  constructor(message: string) {
    super('PERMUTATION', message);
  }
}

/** A model whose residual stream cannot be aligned by an orthogonal map (no norm on it, a norm that cannot be folded). */
export class OrthogonalError extends LlfcError {
  constructor(message: string) {
    super('ORTHOGONAL', message);
  }
}

/**
 * Partial files of a sharded run (lib/shard/) that cannot be reduced: not a partial, truncated or
 * edited, another format version, partials of different runs, shards missing or given twice, or
 * inputs changed since the shards ran. `files` names the partials (or inputs) at fault.
 */
export class PartialError extends LlfcError {
  constructor(readonly files: readonly string[], message: string, options?: { cause?: unknown }) {
    super('PARTIAL', message, options);
  }
}

/** Work stopped through an AbortSignal. */
export class CancelledError extends LlfcError {
  constructor(message = 'cancelled') {
    super('CANCELLED', message);
  }
}

/**
 * A failure inside the native addon. `code`: NATIVE_ARGUMENT when the addon refused an argument
 * (a wrong type, a size that disagrees with its buffer, a detached buffer), the solver's
 * LAP_NAN | LAP_BAD_INFINITY | LAP_INFEASIBLE | LAP_INVALID_ARGUMENT (with `row` / `col` where
 * known), else NATIVE (a kernel failure, out of memory, an addon that cannot be loaded).
 */
export class NativeError extends LlfcError {
  readonly row?: number;
  readonly col?: number;
  constructor(message: string, options?: { cause?: unknown; code?: string; row?: number; col?: number }) {
    super(options?.code ?? 'NATIVE', message, options);
    if (options?.row !== undefined) this.row = options.row;
    if (options?.col !== undefined) this.col = options.col;
  }
}

/** Slurm refused or could not take a job: sbatch missing, or its error (a partition that does not exist, a time over the limit). */
export class SlurmError extends LlfcError {
  constructor(message: string) {
    super('SLURM', message);
  }
}
