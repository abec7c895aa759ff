/**
 * The fuzz suite's temporary tree: one directory per case (its hostile inputs and its outputs),
 * and beside them a directory the commands must never read, holding a planted marker file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fixturesDir } from '../helpers.js';

/** 16 ASCII bytes, finite as float32 values, so a model that reads them as weights loads and writes them out. */
const MARKER_TOKEN = 'LLFC~FUZZ~MARKER';

export class Workspace {
  readonly root = mkdtempSync(join(tmpdir(), 'llfc-fuzz-'));
  /** Outside every model directory: nothing may read it. */
  readonly outside = join(this.root, 'outside');
  /** The marker's bytes: the token repeated, 64 KiB, larger than any tensor a case points at it. */
  readonly marker = Buffer.from(MARKER_TOKEN.repeat(4096), 'latin1');
  readonly markerFile = join(this.outside, 'marker.bin');
  /** What a leak of the marker looks like in an output: two tokens in a row. */
  readonly markerBytes = Buffer.from(MARKER_TOKEN.repeat(2), 'latin1');
  private cases = 0;

  constructor() {
    mkdirSync(this.outside);
    writeFileSync(this.markerFile, this.marker);
  }

  /** A fresh directory for one case. */
  caseDir(slug: string): string {
    const dir = join(this.root, 'cases', `${String(this.cases++).padStart(3, '0')}-${slug.replace(/[^a-z0-9]+/gi, '-')}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Writes `bytes` to `dir/name` (creating folders) and returns the path. */
  file(dir: string, name: string, bytes: Uint8Array | string): string {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return path;
  }

  /** What a case may not change besides its outputs: its own directory, the outside, the fixtures. */
  watch(dir: string): string[] {
    return [dir, this.outside, fixturesDir];
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
