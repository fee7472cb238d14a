import { NodeDocument, nodeFromProperties } from '@plexus/domain';
import { configDrift } from './config-drift';

describe('configDrift', () => {
  const stored: NodeDocument = {
    nodeId: 'n',
    version: 4,
    archived: false,
    properties: { server_port_offset: '0' },
    modules: [
      {
        moduleId: 'web',
        type: 'http-endpoint',
        config: { port: '8000', 'db.password': 'secret' },
        requires: {},
        enabled: true,
        activation: 'all',
        generation: 2,
      },
    ],
  };

  it('is empty when the file says what is stored (generation aside)', () => {
    const file = nodeFromProperties({
      'node.id': 'n',
      'node.server_port_offset': '0',
      'module.web.type': 'http-endpoint',
      'module.web.config.port': '8000',
      'module.web.config.db.password': 'secret',
    });
    expect(configDrift(file, stored)).toEqual([]);
  });

  it('names differing keys and modules, never values', () => {
    const file = nodeFromProperties({
      'node.server_port_offset': '100',
      'module.web.type': 'http-endpoint',
      'module.web.enabled': 'false',
      'module.web.config.port': '8000',
      'module.web.config.db.password': 'other',
      'module.extra.type': 'local-security',
    });
    const drift = configDrift(file, stored);
    expect(drift).toEqual([
      'property server_port_offset differs',
      'module web: enabled differs',
      'module web: config.db.password differs',
      'module extra is only in the file',
    ]);
    expect(drift.join(' ')).not.toMatch(/other|secret/);
  });
});
