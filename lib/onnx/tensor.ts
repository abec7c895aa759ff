/** Reading and writing the values of ONNX tensors (initializers). */
import { OnnxFormatError } from '../errors.js';
import { DataType, dataTypeName, type TensorProto } from './proto.js';

export function tensorShape(tensor: TensorProto): number[] {
  return tensor.dims.map((d) => Number(d));
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * The number of float32 values a FLOAT tensor stores inline, checked against its shape: values
 * that do not fill it are an OnnxFormatError naming the file (`where`), the tensor, its shape and
 * both sizes.
 */
export function floatCount(tensor: TensorProto, where: string): number {
  if (tensor.dataType !== DataType.FLOAT) {
    throw new TypeError(`${where}: tensor '${tensor.name}' is ${dataTypeName(tensor.dataType)}, expected FLOAT`);
  }
  const shape = tensorShape(tensor);
  const count = elementCount(shape);
  if (tensor.rawData.length > 0) {
    if (tensor.rawData.length !== count * 4) {
      throw new OnnxFormatError(where, `initializer '${tensor.name}' of shape [${shape.join(', ')}] (float32) has ${tensor.rawData.length} bytes of raw_data, its shape needs ${count * 4}`);
    }
  } else if (tensor.floatData.length !== count) {
    throw new OnnxFormatError(where, `initializer '${tensor.name}' of shape [${shape.join(', ')}] has ${tensor.floatData.length} float_data values, its shape needs ${count}`);
  }
  return count;
}

/**
 * Copies the values of a FLOAT tensor into `dest` (exactly its size), byte for byte: protobuf
 * hands out unaligned views of raw_data that cannot be viewed as Float32Array in place.
 */
export function copyFloat32Into(tensor: TensorProto, dest: Float32Array, where: string): void {
  const count = floatCount(tensor, where);
  if (dest.length !== count) throw new RangeError(`${where}: tensor '${tensor.name}' has ${count} values, the destination ${dest.length}`);
  if (tensor.rawData.length > 0) new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength).set(tensor.rawData);
  else dest.set(tensor.floatData);
}

/** Whether a FLOAT tensor holds infinities only (at least one value; false while its values are in a data file). */
export function infinitiesOnly(tensor: TensorProto): boolean {
  const infinite = (v: number): boolean => v === Infinity || v === -Infinity;
  const raw = tensor.rawData;
  if (raw.length === 0) return tensor.floatData.length > 0 && tensor.floatData.every(infinite);
  if (raw.length % 4 !== 0) return false;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < raw.length; i += 4) if (!infinite(view.getFloat32(i, true))) return false;
  return true;
}

/** The values of a FLOAT tensor as a fresh Float32Array (errors as copyFloat32Into). */
export function readFloat32(tensor: TensorProto, where: string): Float32Array {
  const values = new Float32Array(floatCount(tensor, where));
  copyFloat32Into(tensor, values, where);
  return values;
}

/** The bytes of float32 values, sharing their memory. */
export function float32Bytes(values: Float32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(values.buffer as ArrayBuffer, values.byteOffset, values.byteLength);
}

/**
 * Replaces a FLOAT tensor's values (stored as raw_data, as PyTorch's exporter does). The tensor
 * keeps a view of `values`, not a copy: a model holds its weights once. Callers hand over values
 * they no longer write (llfc replaces a tensor's bytes, it never writes into them).
 */
export function writeFloat32(tensor: TensorProto, values: Float32Array): void {
  tensor.rawData = float32Bytes(values);
  tensor.floatData = [];
}

/** A canonical byte string of a tensor's value, for comparing constants between checkpoints. */
export function valueKey(tensor: TensorProto): string {
  const parts: string[] = [String(tensor.dataType), tensorShape(tensor).join('x')];
  if (tensor.rawData.length > 0) parts.push(Buffer.from(tensor.rawData).toString('base64'));
  for (const field of ['floatData', 'int32Data', 'int64Data', 'doubleData', 'uint64Data'] as const) {
    const values: readonly unknown[] = tensor[field];
    if (values.length > 0) parts.push(values.map((v) => String(v)).join(','));
  }
  return parts.join('|');
}

/** Integer values of an INT64/INT32 tensor, or undefined for any other type. */
export function tensorInts(t: TensorProto): number[] | undefined {
  if (t.dataType === DataType.INT64) {
    if (t.rawData.length > 0) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      return Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    }
    return t.int64Data.map((v) => Number(v));
  }
  if (t.dataType === DataType.INT32) {
    if (t.rawData.length > 0) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      return Array.from({ length: t.rawData.byteLength / 4 }, (_, i) => view.getInt32(4 * i, true));
    }
    return [...t.int32Data];
  }
  return undefined;
}
