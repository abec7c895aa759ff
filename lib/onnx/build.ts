/** Building small ONNX models around nodes of an existing graph. */
import { floatValueInfo } from './graph.js';
import { DataType, newModel, newNode, newTensor, int64s, type ModelProto, type NodeProto } from './proto.js';
import { writeFloat32 } from './tensor.js';

export interface HelperInitializer {
  readonly name: string;
  readonly values: Float32Array;
  readonly dims: readonly number[];
}

/**
 * A model with the given nodes, float inputs and outputs of unspecified shape, and float
 * initializers, under the opsets of `like` (so copied nodes keep their semantics).
 */
export function helperModel(like: ModelProto, nodes: NodeProto[], inputs: string[], outputs: string[], initializers: HelperInitializer[] = []): ModelProto {
  return newModel({
    irVersion: like.irVersion,
    opsetImport: like.opsetImport,
    producerName: 'llfc',
    graph: {
      name: 'llfc-helper',
      node: nodes,
      input: inputs.map((n) => floatValueInfo(n)),
      output: outputs.map((n) => floatValueInfo(n)),
      initializer: initializers.map((init) => {
        const tensor = newTensor({ name: init.name, dataType: DataType.FLOAT, dims: int64s(init.dims) });
        writeFloat32(tensor, init.values);
        return tensor;
      }),
    },
  });
}

/** A copy of a node with new inputs and outputs (attributes kept). */
export function renode(node: Pick<NodeProto, 'opType'> & Partial<Pick<NodeProto, 'domain' | 'attribute'>>, inputs: string[], outputs: string[], name: string): NodeProto {
  return newNode({ opType: node.opType, domain: node.domain, attribute: node.attribute, input: inputs, output: outputs, name });
}
