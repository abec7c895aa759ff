import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkpointFromModel } from '../lib/checkpoint.js';
import { ModelRunError } from '../lib/errors.js';
import { decodeModelProto, shapeDims, tensorType } from '../lib/onnx/proto.js';
import { ModelSession } from '../lib/session.js';
import { fixture } from './helpers.js';

describe('ModelSession', () => {
  it('a batch onnxruntime cannot run (let through by symbolic input dims) is a ModelRunError naming the model, the batch shape and the failing node', async () => {
    const file = fixture('models', 'cnn_bn_a.onnx');
    const proto = decodeModelProto(readFileSync(file));
    tensorType(proto.graph!.input![0])!.shape!.dim = shapeDims(['batch', 'c', 'h', 'w']);
    const checkpoint = checkpointFromModel({ file, proto });
    const session = await ModelSession.create(checkpoint, { parameters: checkpoint.arena });
    session.checkInputShape([1, 20, 20], 'x.npy');
    const error = await session.run(new Float32Array(2 * 400), [2, 1, 20, 20]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelRunError);
    expect((error as Error).message).toMatch(/cnn_bn_a\.onnx: onnxruntime could not run it on a batch of shape \[2, 1, 20, 20\]: .*\/fc\/Gemm/);
    await session.release();
  });
});
