/** A fixture MLP with fc1's bias taken out, for the REPAIR tests of a layer without a bias (REPAIR adds llfc_repair_bias_0). */
import { checkpointFromModel, type Checkpoint } from '../../lib/checkpoint.js';
import { cloneModel } from '../../lib/onnx/model.js';

export function withoutFc1Bias(c: Checkpoint): Checkpoint {
  const proto = cloneModel(c.model);
  const gemm = proto.graph!.node.find((n) => n.opType === 'Gemm' && n.input[1] === 'fc1.weight')!;
  gemm.input = gemm.input.slice(0, 2);
  proto.graph!.initializer = proto.graph!.initializer.filter((t) => t.name !== 'fc1.bias');
  return checkpointFromModel({ file: c.file, proto });
}
