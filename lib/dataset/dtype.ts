/**
 * Element types of data and label files, shared by the npy/npz, IDX and CIFAR-10 readers.
 */
import { DatasetError } from '../errors.js';

/** Names of the element types a file can declare. */
export type DTypeName =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

/** An element type with its byte order. */
export interface DType {
  readonly name: DTypeName;
  /** Bytes per element. */
  readonly size: number;
  readonly kind: 'bool' | 'int' | 'uint' | 'float';
  readonly littleEndian: boolean;
}

/** Element types accepted for model inputs: pixels and features (uint8, floats) or token ids (integers). */
export type InputDTypeName = 'uint8' | 'float32' | 'float64' | TokenDTypeName;

/** Integer element types of token ids (fed unchanged as int64). */
export type TokenDTypeName = 'uint16' | 'int32' | 'int64';

/** The token id element types, for options and messages. */
export const TOKEN_DTYPES: readonly TokenDTypeName[] = ['uint16', 'int32', 'int64'];

const KINDS: Record<DTypeName, { size: number; kind: DType['kind'] }> = {
  bool: { size: 1, kind: 'bool' },
  int8: { size: 1, kind: 'int' },
  uint8: { size: 1, kind: 'uint' },
  int16: { size: 2, kind: 'int' },
  uint16: { size: 2, kind: 'uint' },
  int32: { size: 4, kind: 'int' },
  uint32: { size: 4, kind: 'uint' },
  int64: { size: 8, kind: 'int' },
  uint64: { size: 8, kind: 'uint' },
  float16: { size: 2, kind: 'float' },
  float32: { size: 4, kind: 'float' },
  float64: { size: 8, kind: 'float' },
};

/** Builds a {@link DType} from its name and byte order. */
export function dtype(name: DTypeName, littleEndian: boolean): DType {
  const k = KINDS[name];
  return { name, size: k.size, kind: k.kind, littleEndian: k.size === 1 ? true : littleEndian };
}

/** Whether an element type holds token ids. */
export function isTokenDType(t: DType): t is DType & { name: TokenDTypeName } {
  return (TOKEN_DTYPES as readonly string[]).includes(t.name);
}

/** Whether an element type can be a model input (uint8, float32, float64, or token ids). */
export function isInputDType(t: DType): t is DType & { name: InputDTypeName } {
  return t.name === 'uint8' || t.name === 'float32' || t.name === 'float64' || isTokenDType(t);
}

/** Throws a {@link DatasetError} unless `t` is a supported input element type. */
export function requireInputDType(t: DType, file: string): asserts t is DType & { name: InputDTypeName } {
  if (!isInputDType(t)) {
    throw new DatasetError(
      file,
      `unsupported dtype ${t.name} for inputs (supported: float32, float64, uint8; token ids ${TOKEN_DTYPES.join(', ')})`,
    );
  }
}

/** Throws a {@link DatasetError} unless `t` is an integer element type usable for labels. */
export function requireLabelDType(t: DType, file: string): void {
  if (t.kind === 'float') {
    throw new DatasetError(file, `labels must be integers, but the file holds ${t.name} values`);
  }
  if (t.kind === 'bool') {
    throw new DatasetError(file, `unsupported dtype ${t.name} for labels (supported: integer types)`);
  }
}

/** Reads the element of type `t` at `byteOffset` as a JS number (64-bit integers may round). */
export function readElement(view: DataView, byteOffset: number, t: DType): number {
  const le = t.littleEndian;
  switch (t.name) {
    case 'bool':
    case 'uint8':
      return view.getUint8(byteOffset);
    case 'int8':
      return view.getInt8(byteOffset);
    case 'int16':
      return view.getInt16(byteOffset, le);
    case 'uint16':
      return view.getUint16(byteOffset, le);
    case 'int32':
      return view.getInt32(byteOffset, le);
    case 'uint32':
      return view.getUint32(byteOffset, le);
    case 'int64':
      return Number(view.getBigInt64(byteOffset, le));
    case 'uint64':
      return Number(view.getBigUint64(byteOffset, le));
    case 'float16':
      throw new RangeError('float16 elements are not decoded');
    case 'float32':
      return view.getFloat32(byteOffset, le);
    case 'float64':
      return view.getFloat64(byteOffset, le);
  }
}
