/** Shared helpers of the alignment tests: small hand-built ONNX models and onnxruntime runs. */
import * as ort from 'onnxruntime-node';
import { checkpointFromModel, type Checkpoint } from '../../lib/checkpoint.js';
import { floatValueInfo } from '../../lib/onnx/graph.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { AttributeType, DataType, int64s, newAttribute, newModel, newNode, newTensor, newValueInfo, shapeDims, type ModelProto } from '../../lib/onnx/proto.js';
import { writeFloat32 } from '../../lib/onnx/tensor.js';

/** Deterministic pseudo-random floats in [-scale, scale). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

export interface TinyNode {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Ints, int lists, strings, a float ({ float }), or a float tensor ({ floats, dims }, e.g. a Constant's value). */
  attrs?: Record<string, number | number[] | string | { float: number } | { floats: number[]; dims: number[] }>;
  name?: string;
}

function attributeProto(name: string, v: NonNullable<TinyNode['attrs']>[string]) {
  if (typeof v === 'number') return newAttribute({ name, type: AttributeType.INT, i: BigInt(v) });
  if (typeof v === 'string') return newAttribute({ name, type: AttributeType.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return newAttribute({ name, type: AttributeType.INTS, ints: int64s(v) });
  if ('float' in v) return newAttribute({ name, type: AttributeType.FLOAT, f: v.float });
  return newAttribute({ name, type: AttributeType.TENSOR, t: newTensor({ dataType: DataType.FLOAT, dims: int64s(v.dims), floatData: v.floats }) });
}

/**
 * A model from nodes; `params` are float initializers filled with seeded random values,
 * `ints` int64 initializers. One input 'x' of `inputShape` (batch symbolic), output 'y'.
 */
export function tinyModel(options: {
  inputShape: number[];
  nodes: TinyNode[];
  params: Record<string, number[]>;
  ints?: Record<string, number[]>;
  seed?: number;
  output?: string;
  opset?: number;
}): ModelProto {
  let seed = options.seed ?? 7;
  const initializer = Object.entries(options.params).map(([name, dims]) => {
    const t = newTensor({ name, dataType: DataType.FLOAT, dims: int64s(dims) });
    writeFloat32(t, randomFloats(dims.reduce((a, d) => a * d, 1), seed++, 0.5));
    return t;
  });
  for (const [name, values] of Object.entries(options.ints ?? {})) {
    initializer.push(newTensor({ name, dataType: DataType.INT64, dims: [BigInt(values.length)], int64Data: int64s(values) }));
  }
  return newModel({
    irVersion: 8n,
    opsetImport: [{ domain: '', version: BigInt(options.opset ?? 13) }],
    producerName: 'llfc-test',
    graph: {
      name: 'tiny',
      node: options.nodes.map((n, i) =>
        newNode({
          opType: n.op,
          input: n.inputs,
          output: n.outputs,
          name: n.name ?? `/${n.op.toLowerCase()}${i}/${n.op}`,
          attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => attributeProto(name, v)),
        }),
      ),
      input: [newValueInfo({ name: 'x', type: { value: { case: 'tensorType', value: { elemType: DataType.FLOAT, shape: { dim: shapeDims(['batch', ...options.inputShape]) } } } } })],
      output: [floatValueInfo(options.output ?? 'y')],
      initializer,
    },
  });
}

export function tinyCheckpoint(model: ModelProto, file = 'tiny.onnx'): Checkpoint {
  return checkpointFromModel({ file, proto: model });
}

/** Runs a model (proto or bytes) on one input and returns its first output. */
export async function runModel(model: ModelProto | Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model instanceof Uint8Array ? model : encodeModel(model));
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** An in-memory dataset of seeded random inputs (no labels). */
export function randomDataset(samples: number, sampleShape: number[], seed = 3): import('../../lib/dataset/index.js').Dataset {
  const per = sampleShape.reduce((a, d) => a * d, 1);
  const all = randomFloats(samples * per, seed, 1.5);
  return {
    source: `random(${samples}×${sampleShape.join('×')})`,
    length: samples,
    sampleShape,
    async *batches(batchSize: number) {
      for (let start = 0, index = 0; start < samples; start += batchSize, index++) {
        const size = Math.min(batchSize, samples - start);
        yield { index, start, size, inputs: all.slice(start * per, (start + size) * per) };
      }
    },
  };
}
