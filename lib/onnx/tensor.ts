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
 * The values of a FLOAT tensor as a fresh Float32Array; values that do not fill its shape are
 * an OnnxFormatError naming the file (`where`), the tensor, its shape and both sizes. raw_data is copied first because
 * protobuf hands out unaligned views that cannot be viewed as Float32Array in place.
 */
export function readFloat32(tensor: TensorProto, where: string): Float32Array {
  if (tensor.dataType !== DataType.FLOAT) {
    throw new TypeError(`${where}: tensor '${tensor.name}' is ${dataTypeName(tensor.dataType)}, expected FLOAT`);
  }
  const shape = tensorShape(tensor);
  const count = elementCount(shape);
  if (tensor.rawData.length > 0) {
    if (tensor.rawData.length !== count * 4) {
      throw new OnnxFormatError(where, `initializer '${tensor.name}' of shape [${shape.join(', ')}] (float32) has ${tensor.rawData.length} bytes of raw_data, its shape needs ${count * 4}`);
    }
    const copy = new Uint8Array(tensor.rawData.length);
    copy.set(tensor.rawData);
    return new Float32Array(copy.buffer);
  }
  const values = tensor.floatData;
  if (values.length !== count) {
    throw new OnnxFormatError(where, `initializer '${tensor.name}' of shape [${shape.join(', ')}] has ${values.length} float_data values, its shape needs ${count}`);
  }
  return Float32Array.from(values);
}

/** Replaces a FLOAT tensor's values (stored as raw_data, as PyTorch's exporter does). */
export function writeFloat32(tensor: TensorProto, values: Float32Array): void {
  const bytes = new Uint8Array(values.byteLength);
  bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  tensor.rawData = bytes;
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
