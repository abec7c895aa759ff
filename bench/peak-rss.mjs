// Preloaded (`node --import`) into a process the memory bench measures: when the process exits,
// its peak resident set size in KiB (worker threads included) is written to LLFC_PEAK_RSS_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env.LLFC_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
