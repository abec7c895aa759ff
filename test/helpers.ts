/** Paths of the generated fixtures and temp-dir helpers shared by tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixture(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

/** A fresh temporary directory (`path(name)`: a file in it), removed by the returned cleanup. */
export function tempDir(): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'llfc-test-'));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the llfc CLI in this process (faster than spawning it): its exit code and what it wrote. */
export async function runCliInProcess(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { vi } = await import('vitest');
  const { main } = await import('../lib/cli/main.js');
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    return { status: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
