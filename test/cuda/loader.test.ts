/**
 * The CUDA build where it is compiled: it loads with or without a GPU, computes as the CPU build
 * when it finds no device, and the loader passes over it with one notice. Runs wherever
 * llfc_cuda.node was built (CI compiles it into build-cuda/ without a GPU).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cpu, cuda, cudaAddonPath, noGpu, randomFloats, root } from './addon.js';

const notBuilt = cuda ? '' : ' — skipped: llfc_cuda.node not built (LLFC_CUDA=ON node scripts/build-native.js --out build-cuda)';

/** Loads the addon through lib/native.ts in a fresh process; returns its backend and stderr. */
function loadThroughLoader(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const script = "import { native } from './lib/native.ts'; const n = native(); process.stdout.write(n.backend);";
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, LLFC_CUDA_ADDON: cudaAddonPath! };
  for (const [key, value] of Object.entries(childEnv)) if (value === '') delete childEnv[key];
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: childEnv,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!cuda)(`the CUDA build${notBuilt}`, () => {
  it('loads, exports every CPU function plus the cuda* ones, and reports a device only when it has one', () => {
    for (const name of Object.keys(cpu)) expect(typeof (cuda as unknown as Record<string, unknown>)[name]).toBe(typeof (cpu as unknown as Record<string, unknown>)[name]);
    const info = cuda!.cudaInfo!();
    expect(info.runtimeVersion).toBeGreaterThanOrEqual(13000);
    expect(cuda!.backend).toBe(info.available ? 'cuda' : 'cpu');
    if (!info.available) expect(info.reason).not.toBe('');
  });

  it('is picked by the loader with a device, and passed over with exactly one notice line without', () => {
    const r = loadThroughLoader({ LLFC_BACKEND: '' });
    expect(r.status).toBe(0);
    if (noGpu) {
      expect(r.stdout).toBe('cpu');
      expect(r.stderr).toMatch(/^llfc: no usable CUDA device \(.+\), using the CPU kernels\n$/);
    } else {
      expect(r.stdout).toBe('cuda');
      expect(r.stderr).toBe('');
    }
  });

  it('LLFC_BACKEND=cpu never loads it; LLFC_BACKEND=cuda without a device is an error that says why', () => {
    const forcedCpu = loadThroughLoader({ LLFC_BACKEND: 'cpu' });
    expect([forcedCpu.status, forcedCpu.stdout, forcedCpu.stderr]).toEqual([0, 'cpu', '']);
    const forcedCuda = loadThroughLoader({ LLFC_BACKEND: 'cuda' });
    if (noGpu) {
      expect(forcedCuda.status).not.toBe(0);
      expect(forcedCuda.stderr).toContain('LLFC_BACKEND=cuda, but the CUDA build found no usable device');
    } else {
      expect([forcedCuda.status, forcedCuda.stdout]).toEqual([0, 'cuda']);
    }
  });

  it.skipIf(!noGpu)('without a device computes exactly what the CPU build computes', () => {
    const n = 100_100; // 1001 samples of 100
    const a = randomFloats(n, 1, 3), b = randomFloats(n, 2, 5);
    const alphas = Float64Array.from([0, 0.1, 1 / 3, 0.5, 1]);
    const outsCuda = Array.from(alphas, () => new Float32Array(n));
    const outsCpu = Array.from(alphas, () => new Float32Array(n));
    cuda!.interpolate(a, b, alphas, outsCuda);
    cpu.interpolate(a, b, alphas, outsCpu);
    outsCuda.forEach((o, k) => expect(Buffer.from(o.buffer).equals(Buffer.from(outsCpu[k]!.buffer))).toBe(true));
    const accCuda = new Float64Array(alphas.length * 5), accCpu = new Float64Array(alphas.length * 5);
    cuda!.cosineStats({ compared: outsCuda, alphas, fa: a, fb: b, samples: 1001, acc: accCuda });
    cpu.cosineStats({ compared: outsCpu, alphas, fa: a, fb: b, samples: 1001, acc: accCpu });
    expect(accCuda).toEqual(accCpu);
    const sCuda = new Float64Array(3), sCpu = new Float64Array(3);
    cuda!.sumSquares(a, b, sCuda);
    cpu.sumSquares(a, b, sCpu);
    expect(sCuda).toEqual(sCpu);
    expect(() => cuda!.cudaResident!(a)).toThrow(/no usable CUDA device/);
    expect(cuda!.cudaRelease!()).toBe(0);
  });
});
