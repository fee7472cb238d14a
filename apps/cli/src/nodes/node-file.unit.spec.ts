import { NodeDocument, REDACTED } from '@plexus/domain';
import { nodeFileFormat, parseNodeFile, planApply, renderDiff } from './node-file';

const current: NodeDocument = {
  nodeId: 'n1',
  version: 4,
  archived: false,
  properties: { offset: '0' },
  modules: [
    {
      moduleId: 'web',
      type: 'http-endpoint',
      config: { message: 'hi', port: '8000', 'db.password': REDACTED },
      requires: {},
      enabled: true,
      activation: 'all',
      generation: 0,
    },
  ],
};

describe('node files', () => {
  it('reads the same node from properties, JSON and YAML', () => {
    const props = parseNodeFile(
      'node.id=n1\nnode.offset=0\nmodule.web.type=http-endpoint\nmodule.web.config.port=8000\n',
      'properties',
      'n1.properties',
    );
    const yaml = parseNodeFile(
      'nodeId: n1\nproperties: { offset: 0 }\nmodules:\n  web: { type: http-endpoint, config: { port: 8000 } }\n',
      'yaml',
      'n1.yaml',
    );
    const json = parseNodeFile(
      JSON.stringify({
        nodeId: 'n1',
        properties: { offset: '0' },
        modules: [{ moduleId: 'web', type: 'http-endpoint', config: { port: '8000' } }],
      }),
      'json',
      'n1.json',
    );
    expect(yaml).toEqual(props);
    expect(json).toEqual(props);
    expect(nodeFileFormat('a/b.YML')).toBe('yaml');
    expect(nodeFileFormat('a/b.properties')).toBe('properties');
  });

  it('refuses a bad file naming it and the field, as a usage error', () => {
    expect(() =>
      parseNodeFile('nodeId: n1\nmodules:\n  web: { config: {} }\n', 'yaml', 'f.yaml'),
    ).toThrow('f.yaml: modules.web.type is required');
    expect(() => parseNodeFile('{', 'json', 'f.json')).toThrow(
      expect.objectContaining({ code: 2 }),
    );
  });

  it('diffs against the stored node, keeping redacted secrets and never printing one', () => {
    const desired = parseNodeFile(
      [
        'node.id=n1',
        'node.offset=0',
        'module.web.type=http-endpoint',
        'module.web.config.message=hello',
        'module.web.config.port=8000',
        `module.web.config.db.password=${REDACTED}`,
        'module.cache.type=redis-cache',
        'module.cache.config.auth.token=clear-text',
      ].join('\n'),
      'properties',
      'n1.properties',
    );
    const text = renderDiff(planApply(current, desired));
    expect(text).toBe(
      [
        '+ module cache (redis-cache)',
        `+   auth.token = "${REDACTED}"`,
        '~ module web',
        '~   message: "hi" -> "hello"',
        '',
      ].join('\n'),
    );
    expect(text).not.toContain('clear-text');
  });

  it('shows a changed secret as changed, without its value, and nothing for no change', () => {
    const desired = {
      nodeId: 'n1',
      properties: { offset: '0' },
      modules: [
        { ...current.modules[0], config: { message: 'hi', port: '8000', 'db.password': 'new' } },
      ],
    };
    expect(renderDiff(planApply(current, desired))).toBe(
      '~ module web\n~   db.password: (secret; changed if it differs)\n',
    );
    expect(renderDiff(planApply(current, { ...desired, modules: current.modules }))).toBe(
      'no changes\n',
    );
  });
});
