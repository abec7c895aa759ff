/**
 * The worker of a command that runs its work in one (lib/api.ts runTask), started before the
 * command's own modules load, so both load at once (about half a second on 2 cores). Help and
 * version requests start none.
 */
import { prestartWorker } from '../worker/host.js';

const WORKER_COMMANDS = new Set(['lmc', 'analyze', 'layerwise', 'align', 'merge', 'series', 'reduce']);

export function prestartFor(argv: readonly string[]): void {
  if (!WORKER_COMMANDS.has(argv[0] ?? '') || argv.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) return;
  prestartWorker();
}
