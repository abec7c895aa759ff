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

/** A tensor's external bytes, located inside the model's directory and checked to be all there. */
export interface ExternalBytes {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * Locates a tensor's external data (resolveExternalData's rules) and checks that the file holds
 * every byte of it: a file too short is an ExternalDataError naming it.
 */
export async function locateExternalData(model: string, tensor: TensorProto): Promise<ExternalBytes> {
  const where = await resolveExternalData(model, tensor);
  const size = (await stat(where.path)).size;
  const length = where.length ?? size - where.offset;
  if (length < 0 || where.offset + length > size) {
    throw new ExternalDataError(model, tensor.name, `external data file '${where.path}' has ${size} bytes, the tensor needs bytes ${where.offset}..${where.offset + (where.length ?? 0)}`, where.path);
  }
  return { path: where.path, offset: where.offset, length };
}

/** Bytes per read: a tensor of any size streams into its destination through no buffer of its own. */
export const EXTERNAL_READ_CHUNK = 1 << 24;

/**
 * Reads located external bytes straight into `dest` (exactly their length), in reads of at most
 * EXTERNAL_READ_CHUNK bytes; a file that ends early is an ExternalDataError naming it.
 */
export async function readExternalInto(model: string, tensor: string, where: ExternalBytes, dest: Uint8Array): Promise<void> {
  if (dest.length !== where.length) throw new RangeError(`${model}: tensor '${tensor}' has ${where.length} bytes of external data, the destination ${dest.length}`);
  const handle = await open(where.path, 'r');
  try {
    for (let done = 0; done < where.length; ) {
      const { bytesRead } = await handle.read(dest, done, Math.min(EXTERNAL_READ_CHUNK, where.length - done), where.offset + done);
      if (bytesRead === 0) throw new ExternalDataError(model, tensor, `external data file '${where.path}' ended after ${done} of ${where.length} bytes`, where.path);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Loads the initializers stored as external data into raw_data (the model then stands alone),
 * except those `defer` picks: these stay external, located and checked, for the caller to read
 * where their bytes belong (readExternalInto). Says whether the model had external data.
 */
export async function loadExternalData(
  proto: ModelProto,
  model: string,
  defer: (tensor: TensorProto) => boolean = () => false,
): Promise<{ external: boolean; deferred: Map<TensorProto, ExternalBytes> }> {
  let external = false;
  const deferred = new Map<TensorProto, ExternalBytes>();
  for (const tensor of proto.graph?.initializer ?? []) {
    if (tensor.dataLocation !== DataLocation.EXTERNAL) continue;
    external = true;
    const where = await locateExternalData(model, tensor);
    if (defer(tensor)) {
      deferred.set(tensor, where);
      continue;
    }
    const data = new Uint8Array(where.length);
    await readExternalInto(model, tensor.name, where, data);
    tensor.rawData = data;
    tensor.dataLocation = DataLocation.DEFAULT;
    tensor.externalData = [];
  }
  return { external, deferred };
}
