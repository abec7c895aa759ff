/** The ONNX protobuf schema (protobufjs static code from the onnx-proto package). */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
// eslint-disable-next-line @typescript-eslint/no-redeclare
export type onnx = typeof onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

export const DataType = onnxProto.onnx.TensorProto.DataType;

/** int64 fields decode as Long objects (protobufjs) or numbers. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Human-readable name of an ONNX element type. */
export function dataTypeName(type: number | null | undefined): string {
  return (DataType as unknown as Record<number, string>)[type ?? 0] ?? `type ${type}`;
}
