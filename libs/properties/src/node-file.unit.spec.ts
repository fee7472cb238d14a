import {
  DomainError,
  NodeDocument,
  nodesFromPropertyEntries,
  nodeToProperties,
} from '@plexus/domain';
import { parsePropertiesDetailed, serializeProperties } from './index';

/** Two nodes in one file, the way an operator writes them: comments, padding, continuations. */
const CLUSTER = [
  '# two nodes', // 1
  'node.id                      = fhir_node', // 2
  'node.server_port_offset      : 10000', // 3
  '', // 4
  'module.fhir_endpoint.type      ENDPOINT_FHIR_REST_R4', // 5
  'module.fhir_endpoint.requires.PERSISTENCE_R4=persistence', // 6
  'module.fhir_endpoint.config.cors.origins = https://a.example.org, \\', // 7
  '                                           https://b.example.org', // 8
  'module.persistence.type=PERSISTENCE_R4', // 9
  'module.persistence.config.db.password=s3cr\\u00e9t', // 10
  '', // 11
  '! second node', // 12
  'node.id=hello', // 13
  'module.web.type=http-endpoint', // 14
  'module.web.config.message=Grüße \\', // 15
  '   aus Zürich', // 16
  'module.web.activation=single', // 17
].join('\n');

const parse = (text: string) => nodesFromPropertyEntries(parsePropertiesDetailed(text).entries);

function lineError(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return (err as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('a properties file with several nodes', () => {
  it('splits at each node.id line, with the lines the parser found', () => {
    const [fhir, hello] = parse(CLUSTER);
    expect([fhir.nodeId, fhir.line, hello.nodeId, hello.line]).toEqual([
      'fhir_node',
      2,
      'hello',
      13,
    ]);
    expect(fhir.properties).toEqual({ server_port_offset: '10000' });
    expect(fhir.modules.map((m) => [m.moduleId, m.type])).toEqual([
      ['fhir_endpoint', 'ENDPOINT_FHIR_REST_R4'],
      ['persistence', 'PERSISTENCE_R4'],
    ]);
    expect(fhir.modules[0].config['cors.origins']).toBe(
      'https://a.example.org, https://b.example.org',
    );
    expect(fhir.modules[1].config['db.password']).toBe('s3crét');
    expect(hello.modules).toEqual([
      {
        moduleId: 'web',
        type: 'http-endpoint',
        config: { message: 'Grüße aus Zürich' },
        requires: {},
        enabled: true,
        activation: 'single',
      },
    ]);
  });

  it('names the physical line of a bad key after continuation lines', () => {
    const text = CLUSTER.replace('module.web.activation=single', 'web.activation=single');
    expect(lineError(text)).toMatch(/^line 17: key "web.activation" must be node.<property> or/);
    expect(lineError(`x=1\n${CLUSTER}`)).toMatch(/^line 1: key "x" comes before the first node.id/);
  });

  it('writes nodes back so that they read the same, several nodes in one file', () => {
    // given the nodes of the file as documents
    const docs: NodeDocument[] = parse(CLUSTER).map((s) => ({
      nodeId: s.nodeId,
      version: 1,
      archived: false,
      properties: s.properties,
      modules: s.modules.map((m) => ({ ...m, generation: 0 })),
    }));
    // when each is serialized and the sections are joined into one file
    const text = docs
      .map((d) => serializeProperties(nodeToProperties(d), { header: `Node ${d.nodeId}` }))
      .join('\n');
    // then the file reads back as the same nodes
    const again = parse(text);
    expect(again.map((s) => s.nodeId)).toEqual(['fhir_node', 'hello']);
    expect(again.map(({ properties, modules }) => ({ properties, modules }))).toEqual(
      docs.map(({ properties, modules }) => ({
        properties,
        modules: modules.map(({ generation: _generation, ...m }) => m),
      })),
    );
  });
});
