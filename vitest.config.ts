import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run files one at a time so native kernels and onnxruntime do not fight.
    fileParallelism: false,
  },
});
