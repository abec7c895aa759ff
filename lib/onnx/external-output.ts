/**
 * Writing a model with external data, as it was read: `out.onnx` plus `out.onnx.data` beside
 * it, both declared to the output gate (lib/outputs.ts) and committed together, so both appear
 * or neither. The data file is an output like any other: it must not be an input.
 */
import { stat, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { DeclaredOutput, OutputFile } from '../outputs.js';
import { resolveExternalData } from './external-data.js';
import { cloneModel, decodeModel, encodeModel } from './model.js';
import { DataLocation, newEntry, type ModelProto } from './proto.js';

/** Tensors of at least this many bytes go to the data file; smaller ones (shape constants among them) stay inline, where onnxruntime's shape inference needs them. */
const EXTERNAL_THRESHOLD = 1024;

/** The data file written beside an output model. */
export function dataFileFor(model: string): string {
  return `${model}.data`;
}

/**
 * The external data files the model `file` names, resolved inside its directory (and noted as
 * inputs); none for a self-contained model. A file that cannot be read or decoded gives none:
 * reading it as a checkpoint reports why.
 */
export async function externalDataFiles(file: string): Promise<string[]> {
  let proto: ModelProto;
  try {
    if (!(await stat(file)).isFile()) return [];
    proto = decodeModel(await readFile(file), file);
  } catch {
    return [];
  }
  const files = new Set<string>();
  for (const tensor of proto.graph?.initializer ?? []) {
    if (tensor.dataLocation === DataLocation.EXTERNAL) files.add((await resolveExternalData(file, tensor)).path);
  }
  return [...files];
}

/** The outputs of writing a model to `path`: the model, and with external data its data file. */
export function modelOutputs(path: string, label: string | undefined, external: boolean): DeclaredOutput[] {
  const model: DeclaredOutput = { path, ...(label ? { label } : {}) };
  return external ? [model, { path: dataFileFor(path), label: `${label ? `${label}'s` : 'the model’s'} external data` }] : [model];
}

/** The files of a model written to `path`: embedded, or with its large tensors in `path.data`. */
export function modelFiles(proto: ModelProto, path: string, external: boolean): OutputFile[] {
  if (!external) return [{ path, content: encodeModel(proto) }];
  const model = cloneModel(proto);
  const location = basename(dataFileFor(path));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph?.initializer ?? []) {
    const raw = tensor.rawData;
    if (raw.length < EXTERNAL_THRESHOLD) continue;
    tensor.externalData = Object.entries({ location, offset: String(offset), length: String(raw.length) }).map(([key, value]) => newEntry(key, value));
    tensor.dataLocation = DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    chunks.push(raw);
    offset += raw.length;
  }
  return [
    { path, content: encodeModel(model) },
    { path: dataFileFor(path), content: chunks },
  ];
}
