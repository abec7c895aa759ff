/** Paths of the generated fixtures and temp-dir helpers shared by tests. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNpyHeader } from '../lib/dataset/npy.js';

export const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

export function fixture(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

/** A little-endian float32 or int64 .npy file of the fixtures, whole. */
export function readNpy(file: string): { shape: number[]; data: Float32Array | BigInt64Array } {
  const bytes = readFileSync(file);
  const header = parseNpyHeader(bytes, file);
  const body = bytes.buffer.slice(bytes.byteOffset + header.dataOffset, bytes.byteOffset + header.dataOffset + header.dataBytes);
  return { shape: header.shape, data: header.dtype.size === 8 ? new BigInt64Array(body) : new Float32Array(body) };
}

/** A fresh temporary directory (`path(name)`: a file in it), removed by the returned cleanup. */
export function tempDir(): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'llfc-test-'));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `llfc ...args` as a user would: a spawned process running the CLI from source. The
 * timeout (vitest's test timeout) ends a hung command, which spawnSync would otherwise wait on forever.
 */
export function llfc(...args: string[]): SpawnSyncReturns<string> {
  return llfcWith({}, ...args);
}

/** {@link llfc} with more in the environment (`env` is added to this process's). */
export function llfcWith(options: { env?: NodeJS.ProcessEnv }, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', fixture('..', 'run-cli.ts'), ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...options.env } });
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

/**
 * The resident kB of this process's file-backed mappings (lib/file-backed.ts) of `floats` floats,
 * from /proc/self/smaps: one entry per mapping of an unlinked file of that size (page-rounded).
 */
export function fileBackedResidentKb(floats: number): number[] {
  const sizeKb = Math.ceil((floats * 4) / 4096) * 4;
  const entries = readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  return entries
    .filter((e) => e.split('\n')[0]!.endsWith('(deleted)') && new RegExp(`^Size:\\s+${sizeKb} kB$`, 'm').test(e))
    .map((e) => Number(/^Rss:\s+(\d+) kB$/m.exec(e)![1]));
}
