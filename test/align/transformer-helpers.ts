/** Shared helpers of the transformer alignment tests: the fixtures' logits on real inputs. */
import * as ort from 'onnxruntime-node';
import { fixture, readNpy } from '../helpers.js';

/** The model's logits on real inputs: Fashion-MNIST images or held-out byte sequences. */
export async function logits(bytes: Uint8Array, name: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    let feeds: Record<string, ort.Tensor>;
    if (name.includes('lm_')) {
      const ids = readNpy(fixture('data', 'lm_heldout_ids.npy'));
      feeds = { input_ids: new ort.Tensor('int64', (ids.data as BigInt64Array).subarray(0, 8 * 32), [8, 32]) };
    } else {
      const x = readNpy(fixture('data', 'fashion_test_x_f32.npy'));
      feeds = { input: new ort.Tensor('float32', new Float32Array((x.data as Float32Array).subarray(0, 32 * 784).map((v) => (v - 0.286) / 0.353)), [32, 1, 28, 28]) };
    }
    return (await session.run(feeds)).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The largest |a − b| / max(1, |a|). */
export function worstRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(a[i]!)));
  return worst;
}
