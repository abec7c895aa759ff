/** The JSON report: what was compared, with which settings, and the results. */
import * as ort from 'onnxruntime-node';
import type { LmcResult, AlignedAnalysis, CalibrationResult, RepairResult, CommutativityReport, LayerReport, LayerwiseResult } from '../results.js';
import type { FoldedBatchNorm } from '../folded-batchnorm.js';
import { writeOutputs } from '../outputs.js';
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
  /** `analyze --align weight,activation`: the same checks with B aligned by each further method. */
  readonly alsoAligned?: AlignedAnalysis[];
  /** `--calibrate` only: the temperature-calibrated LMC curve. */
  readonly calibration?: CalibrationResult;
  /** `--repair` only: the LMC curve after REPAIR. */
  readonly repair?: RepairResult;
  /** `llfc layerwise` only: layer-wise and cumulative barriers. */
  readonly layerwise?: LayerwiseResult;
  /** Present when the checkpoints have BatchNorm folded into their convolutions (lib/folded-batchnorm.ts). */
  readonly foldedBatchNorm?: FoldedBatchNorm;
}

/** What made a report, and when: the fields every kind of report starts with. */
export function reportOrigin(): Pick<Report, 'tool' | 'createdAt'> {
  return { tool: { name: 'llfc', version, onnxruntime: ort.env.versions.common, node: process.versions.node }, createdAt: new Date().toISOString() };
}

export function buildReport(fields: Omit<Report, 'schemaVersion' | 'tool' | 'createdAt'>): Report {
  const { tool, createdAt } = reportOrigin();
  return { schemaVersion: REPORT_SCHEMA_VERSION, tool, createdAt, ...fields };
}

/** The report as the JSON file holds it. */
export function reportJson(report: object): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Writes the report as pretty JSON through the output gate (atomically, never over an input). */
export async function writeReport(report: Report, file: string, inputs: readonly string[] = []): Promise<void> {
  await writeOutputs([{ path: file, content: reportJson(report) }], inputs);
}
