/**
 * The ONNX protobuf schema: ONNX 1.20's onnx.proto compiled for @bufbuild/protobuf (the onnx-buf
 * package), the one place the schema library is named. Fields the schema does not know are kept
 * through decode and encode, so a read followed by a write loses nothing. int64 fields are
 * bigint; unset fields read as their defaults ('' , 0, empty lists), never null.
 */
import { clone, create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type StringStringEntryProto,
  type TensorProto,
  type TensorShapeProto,
  type TensorShapeProto_Dimension,
  TensorShapeProtoSchema,
  type TypeProto_Tensor,
  TensorShapeProto_DimensionSchema,
  type ValueInfoProto,
} from 'onnx-buf';

export type { AttributeProto, GraphProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto, ValueInfoProto };
export const DataType = TensorProto_DataType;
export const DataLocation = TensorProto_DataLocation;
export const AttributeType = AttributeProto_AttributeType;

export const newModel = (init: MessageInitShape<typeof ModelProtoSchema>): ModelProto => create(ModelProtoSchema, init);
export const newGraph = (init: MessageInitShape<typeof GraphProtoSchema>): GraphProto => create(GraphProtoSchema, init);
export const newNode = (init: MessageInitShape<typeof NodeProtoSchema>): NodeProto => create(NodeProtoSchema, init);
export const newTensor = (init: MessageInitShape<typeof TensorProtoSchema>): TensorProto => create(TensorProtoSchema, init);
export const newValueInfo = (init: MessageInitShape<typeof ValueInfoProtoSchema>): ValueInfoProto => create(ValueInfoProtoSchema, init);
export const newAttribute = (init: MessageInitShape<typeof AttributeProtoSchema>): AttributeProto => create(AttributeProtoSchema, init);
export const newEntry = (key: string, value: string): StringStringEntryProto => create(StringStringEntryProtoSchema, { key, value });

/** Parses ModelProto bytes (unknown fields kept); throws on malformed protobuf. */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

/** Serializes a model, unknown fields included. */
export function encodeModelProto(proto: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, proto);
}

/**
 * A deep copy of a model message whose initializers share their raw_data bytes with the
 * original's rather than copying them: a model's weights are held once however many rewritten
 * copies are made (llfc replaces a tensor's bytes, it never writes into them).
 */
export function cloneModelProto(proto: ModelProto): ModelProto {
  // Only tensors holding bytes are touched: assigning a proto2 field, even its default, marks it set.
  const held = (proto.graph?.initializer ?? []).flatMap((t, i) => (t.rawData.length > 0 ? [{ t, i, bytes: t.rawData }] : []));
  const none = new Uint8Array(0);
  for (const { t } of held) t.rawData = none;
  try {
    const copy = clone(ModelProtoSchema, proto);
    for (const { i, bytes } of held) copy.graph!.initializer[i]!.rawData = bytes;
    return copy;
  } finally {
    for (const { t, bytes } of held) t.rawData = bytes;
  }
}

/** An attribute's serialized bytes (a canonical key for comparing attributes). */
export function encodeAttribute(attribute: AttributeProto): Uint8Array {
  return toBinary(AttributeProtoSchema, attribute);
}

/** An int64 field as a number. */
export function toNumber(value: bigint): number {
  return Number(value);
}

/** Numbers as int64 field values. */
export function int64s(values: readonly number[]): bigint[] {
  return values.map((v) => BigInt(v));
}

/** A static dim's value, or undefined for a symbolic or unknown dim. */
export function dimValue(dim: TensorShapeProto_Dimension): number | undefined {
  return dim.value.case === 'dimValue' ? Number(dim.value.value) : undefined;
}

/** Shape dims for a value_info: numbers are static dims, strings symbolic ones. */
export function shapeDims(dims: readonly (number | string)[]): TensorShapeProto_Dimension[] {
  return dims.map((d) =>
    create(TensorShapeProto_DimensionSchema, { value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } }),
  );
}

/** A tensor shape: numbers are static dims, strings symbolic ones. */
export function newShape(dims: readonly (number | string)[]): TensorShapeProto {
  return create(TensorShapeProtoSchema, { dim: shapeDims(dims) });
}

/** The tensor type of a value_info, or undefined when it is untyped or not a tensor. */
export function tensorType(value: ValueInfoProto | undefined): TypeProto_Tensor | undefined {
  return value?.type?.value.case === 'tensorType' ? value.type.value.value : undefined;
}

/** The value of a metadata_props entry, or undefined. */
export function metadataValue(props: readonly StringStringEntryProto[], key: string): string | undefined {
  return props.find((e) => e.key === key)?.value;
}

/** Human-readable name of an ONNX element type. */
export function dataTypeName(type: number): string {
  return (TensorProto_DataType as unknown as Record<number, string>)[type] ?? `type ${type}`;
}
