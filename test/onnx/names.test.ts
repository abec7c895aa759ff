import { describe, expect, it } from 'vitest';
import { checkpointFromModel } from '../../lib/checkpoint.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { readModel } from '../../lib/onnx/model.js';
import { modulePath } from '../../lib/onnx/names.js';
import { newEntry } from '../../lib/onnx/proto.js';
import { fixture } from '../helpers.js';

const scopes = (repr: string) => [newEntry('pkg.torch.onnx.name_scopes', repr)];

describe('module paths from dynamo node metadata', () => {
  it('takes the innermost module of pkg.torch.onnx.name_scopes (the node name last, the root first)', () => {
    expect(modulePath('node_Conv_3', scopes("['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'convolution']"))).toBe('layer1.0.conv1');
    expect(modulePath('node_Gemm_0', scopes("['', 'network', 'network.0', 'linear']"))).toBe('network.0');
    expect(modulePath('node_MatMul_9', scopes(`["", "h.0.attn", "it's"]`))).toBe('h.0.attn');
  });

  it('gives null for a node at the root module, whatever its name says', () => {
    expect(modulePath('/fc1/Gemm', scopes("['', 'view']"))).toBeNull();
  });

  it('reads the namespace metadata where name_scopes is absent', () => {
    const namespace = [newEntry('namespace', ': __main__.Net/blocks: torch.nn.modules.container.ModuleList/blocks.2: __main__.Block/blocks.2.mlp.fc1: torch.nn.modules.linear.Linear/linear_8: aten.linear.default')];
    expect(modulePath('linear_8', namespace)).toBe('blocks.2.mlp.fc1');
  });

  it('falls back to the legacy node name when the metadata is absent or not a module path', () => {
    expect(modulePath('/layer1/0/conv1/Conv', [])).toBe('layer1.0.conv1');
    expect(modulePath('/fc1/Gemm', scopes('not a list'))).toBe('fc1');
    expect(modulePath('/fc1/Gemm', [newEntry('namespace', 'no colon here')])).toBe('fc1');
    expect(modulePath('Gemm_3', [newEntry('other', 'x')])).toBeNull();
  });

  it('lets --layers select a dynamo-style node by the module path in its metadata, and reports that path', async () => {
    const { file, proto } = await readModel(fixture('models', 'mlp_a.onnx'));
    proto.graph!.node.forEach((node, k) => {
      const legacy = modulePath(node.name);
      node.name = `node_${node.opType}_${k}`;
      node.metadataProps = scopes(`['', 'model', ${legacy ? `'model.${legacy}', ` : ''}'op_${k}']`);
    });
    const checkpoint = checkpointFromModel({ file, proto });
    const layers = selectLayers(checkpoint, ['model.fc1']);
    expect(layers.map((l) => l.module)).toEqual(['model.fc1']);
    expect(layers[0]!.op).toBe('Gemm');
  });
});
