/**
 * External data: tensors an ONNX file keeps in separate files, named by a `location` relative
 * to the model. A checkpoint is untrusted input, so the one resolver here keeps every read
 * inside the model's own directory, as onnxruntime and the onnx checker require: no absolute
 * locations, no `..`, no symbolic link or path whose real path leaves the directory, regular
 * files only (a FIFO or device would hang or never end). Files read are inputs the output gate
 * never writes over.
 */
import { open, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { ExternalDataError } from '../errors.js';
import { noteInputRead } from '../outputs.js';
import { DataLocation, metadataValue, type ModelProto, type TensorProto } from './proto.js';

/** Where one tensor's bytes lie. */
export interface ExternalLocation {
  /** The data file, resolved inside the model's directory. */
  readonly path: string;
  readonly offset: number;
  /** Bytes to read; undefined means up to the end of the file. */
  readonly length: number | undefined;
}

function field(tensor: TensorProto, key: string): string | undefined {
  return metadataValue(tensor.externalData, key);
}

/** A non-negative integer field (offset, length), or undefined when absent. */
function byteCount(model: string, tensor: string, location: string, key: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new ExternalDataError(model, tensor, `external data '${location}': ${key} '${text}' is not a non-negative integer`, location);
  return n;
}

/**
 * Resolves a tensor's external data location inside the directory of `model` (the ONNX file);
 * throws ExternalDataError naming the model, the tensor and the location when it leads
 * elsewhere, is missing or is not a regular file.
 */
export async function resolveExternalData(model: string, tensor: TensorProto): Promise<ExternalLocation> {
  const name = tensor.name;
  const location = field(tensor, 'location');
  if (!location) throw new ExternalDataError(model, name, 'external data without a location');
  const refuse = (why: string): never => {
    throw new ExternalDataError(model, name, `external data location '${location}' ${why}; external data must lie in the model's own directory`, location);
  };
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\')) refuse('is an absolute path');
  if (location.split(/[\\/]/).includes('..')) refuse("goes up a directory ('..')");
  if (location.includes('\0')) refuse('holds a NUL byte');
  const dir = await realpath(dirname(resolve(model)));
  const path = join(dir, location);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new ExternalDataError(model, name, `external data file '${path}' is missing`, location);
  }
  if (!real.startsWith(dir + sep)) refuse(`resolves to ${real}, outside ${dir}`);
  if (!(await stat(real)).isFile()) refuse('is not a regular file');
  const offset = byteCount(model, name, location, 'offset', field(tensor, 'offset')) ?? 0;
  const length = byteCount(model, name, location, 'length', field(tensor, 'length'));
  noteInputRead(real);
  return { path: real, offset, length };
}

/** Reads the bytes of a resolved location; a file too short for them is an ExternalDataError. */
async function readLocation(model: string, tensor: string, where: ExternalLocation): Promise<Uint8Array<ArrayBuffer>> {
  const handle = await open(where.path, 'r');
  try {
    const size = (await handle.stat()).size;
    const length = where.length ?? size - where.offset;
    if (length < 0 || where.offset + length > size) {
      throw new ExternalDataError(model, tensor, `external data file '${where.path}' has ${size} bytes, the tensor needs bytes ${where.offset}..${where.offset + (where.length ?? 0)}`, where.path);
    }
    const data = new Uint8Array(length);
    const { bytesRead } = await handle.read(data, 0, length, where.offset);
    if (bytesRead !== length) throw new ExternalDataError(model, tensor, `external data file '${where.path}' ended after ${bytesRead} of ${length} bytes`, where.path);
    return data;
  } finally {
    await handle.close();
  }
}

/** Loads every initializer stored as external data into raw_data (the model then stands alone); whether there was any. */
export async function loadExternalData(proto: ModelProto, model: string): Promise<boolean> {
  let loaded = false;
  for (const tensor of proto.graph?.initializer ?? []) {
    if (tensor.dataLocation !== DataLocation.EXTERNAL) continue;
    tensor.rawData = await readLocation(model, tensor.name, await resolveExternalData(model, tensor));
    tensor.dataLocation = DataLocation.DEFAULT;
    tensor.externalData = [];
    loaded = true;
  }
  return loaded;
}
