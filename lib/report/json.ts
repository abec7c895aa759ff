/** The JSON report: what was compared, with which settings, and the results. */
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LmcResult } from '../checks/lmc.js';
import type { AlignedAnalysis, CommutativityReport, LayerReport } from './types.js';
import { InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../onnx/model.js';
import { version } from '../version.js';

export const REPORT_SCHEMA_VERSION = 1;

export interface ReportSettings {
  readonly batchSize: number;
  readonly feed: string;
  readonly [key: string]: unknown;
}

export interface Report {
  readonly schemaVersion: number;
  readonly tool: { name: 'llfc'; version: string; onnxruntime: string; node: string };
  readonly createdAt: string;
  readonly models: { a: string; b: string };
  readonly data: { source: string; samples: number; labels: boolean };
  readonly settings: ReportSettings;
  /** null when the data has no labels. */
  readonly lmc: LmcResult | null;
  /** `analyze` only: α values of the per-layer checks, and the checks. */
  readonly layerAlphas?: number[];
  readonly layers?: LayerReport[];
  readonly commutativity?: CommutativityReport[];
  /** `analyze --align` only: the same checks on A and the aligned B. */
  readonly aligned?: AlignedAnalysis;
}

export function buildReport(fields: Omit<Report, 'schemaVersion' | 'tool' | 'createdAt'>): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'llfc', version, onnxruntime: ort.env.versions.common, node: process.versions.node },
    createdAt: new Date().toISOString(),
    ...fields,
  };
}

/** Refuses an output path that is one of the inputs: inputs are never overwritten. */
export function checkOutputPath(out: string, inputs: readonly string[]): void {
  const target = resolve(out);
  for (const input of inputs) {
    if (resolve(input) === target) throw new InvalidArgumentError(`refusing to write ${out}: it is an input file`);
  }
}

/** Writes the report as pretty JSON, atomically. */
export async function writeReport(report: Report, file: string): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
}
