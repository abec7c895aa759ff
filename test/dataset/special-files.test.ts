import { afterAll, describe, expect, it } from 'vitest';

import { DatasetError } from '../../lib/errors.js';
import { openDataset } from '../../lib/dataset/index.js';
import { canMakeDevices, mkfifoSync, mkFullDeviceSync } from '../fuzz/fs-nodes.js';
import { tempDir, writeNpy } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// A FIFO nobody writes blocks a read forever, and a device such as /dev/zero never ends:
// both must be refused before they are opened, whatever the format the name suggests.
const names = ['x.npy', 'x.npz', 'x-idx3-ubyte', 'x-idx3-ubyte.gz', 'data_batch_1.bin'];

describe('data and label files that are not regular files', () => {
  it.each(names)('refuses a FIFO named %s as data with a DatasetError naming it, without blocking', async (name) => {
    const fifo = tmp.path(`fifo-${name}`);
    mkfifoSync(fifo);
    await expect(openDataset({ data: fifo })).rejects.toThrow(DatasetError);
    await expect(openDataset({ data: fifo })).rejects.toThrow(`${fifo}: is a FIFO (named pipe), not a regular file`);
  });

  it('refuses a FIFO as the labels file', async () => {
    const data = writeNpy(tmp.path('ok.npy'), '<f4', [2, 3], new Float32Array(6));
    const fifo = tmp.path('labels.npy');
    mkfifoSync(fifo);
    await expect(openDataset({ data, labels: fifo })).rejects.toThrow(`${fifo}: is a FIFO (named pipe), not a regular file`);
  });

  it.skipIf(!canMakeDevices(tmp.dir))('refuses a character device (like /dev/zero) as data', async () => {
    const device = tmp.path('zero.npy');
    mkFullDeviceSync(device);
    await expect(openDataset({ data: device })).rejects.toThrow(`${device}: is a character device, not a regular file`);
  });
});
