/**
 * Arenas in file-backed memory (native/file_backed.h). A large model's pass runs segment by
 * segment (lib/checks/pass-models.ts) and reads A's and B's parameters one segment at a time, so
 * their pages need not stay in the process: it hands back each segment's before the next, and
 * they are read again from the page cache, or the disk, only when touched. Held whole, A's and
 * B's arenas were half of ResNet-50's peak memory in its analysis (bench/memory.ts).
 *
 * The file is unnamed and lives in the system's temporary directory (TMPDIR, os.tmpdir()): for
 * its pages to leave memory, that directory should lie on a disk, not in memory (tmpfs).
 */
import { tmpdir } from 'node:os';
import { native } from './native.js';

/**
 * `count` zeroed floats in a file-backed mapping, or in ordinary memory where there can be none
 * (no room on the disk, no such mappings on this system): only the memory held differs.
 */
export function fileBackedFloats(count: number): Float32Array<ArrayBuffer> {
  // Node copies an array of such memory to another thread, never moves it: the mapping stays
  // this thread's, unmapped when its collector frees the array.
  return (count > 0 ? native().fileBackedFloats(tmpdir(), count).floats : undefined) ?? new Float32Array(count);
}

/** Hands back the process's pages of `x` where it is file-backed (its values stay); other memory is left alone. */
export function releaseFilePages(x: Float32Array): void {
  native().releaseFilePages(x);
}
