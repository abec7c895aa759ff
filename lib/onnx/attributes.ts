/** Reading node attributes and the integer constants nodes take (ONNX defaults given by the caller). */
import { toNumber, type AttributeProto, type NodeProto } from './proto.js';
import { tensorInts } from './tensor.js';

export function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? a.f : fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? a.ints.map((v) => toNumber(v)) : undefined;
}

export function stringAttr(node: NodeProto, name: string): string | undefined {
  const a = attribute(node, name);
  return a && a.s.length > 0 ? Buffer.from(a.s).toString('utf8') : undefined;
}

/** Integer values of a Constant node (value, value_ints or value_int), if it holds integers. */
export function constantInts(node: NodeProto): number[] | undefined {
  const value = attribute(node, 'value');
  if (value?.t) return tensorInts(value.t);
  const list = attribute(node, 'value_ints');
  if (list) return list.ints.map((v) => toNumber(v));
  const one = attribute(node, 'value_int');
  if (one) return [toNumber(one.i)];
  return undefined;
}
