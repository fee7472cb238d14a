import { NodeCommand } from './commands';
import { decide } from './decide';
import { DomainError } from './errors';
import { NodeEvent } from './events';
import { evolveAll } from './evolve';
import { fakeCatalog } from './testing/fake-catalog';
import { emptyNode, NodeDocument } from './node-document';
import { REDACTED } from './secrets';

const catalog = fakeCatalog;

/** given events, when a command, then events (or an error) — no I/O anywhere. */
function given(...events: NodeEvent[]) {
  const state: NodeDocument | null = events.length ? evolveAll(emptyNode('n1'), events) : null;
  return {
    when: (command: NodeCommand) => {
      const run = () => decide(state, 'n1', command, catalog);
      return {
        then: (expected: NodeEvent[]) => expect(run()).toEqual(expected),
        thenFails: (kind: DomainError['kind'], message: RegExp) => {
          let error: unknown;
          try {
            run();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(DomainError);
          expect((error as DomainError).kind).toBe(kind);
          expect((error as DomainError).message).toMatch(message);
        },
      };
    },
  };
}

const created: NodeEvent = { type: 'NodeCreated', data: { properties: { a: '1' } } };
const webAdded: NodeEvent = {
  type: 'ModuleAdded',
  data: {
    moduleId: 'web',
    type: 'web',
    config: { port: '80' },
    requires: {},
    enabled: true,
    activation: 'all',
  },
};
const securityAdded: NodeEvent = {
  type: 'ModuleAdded',
  data: {
    moduleId: 'sec',
    type: 'security',
    config: { users: 'alice:hash' },
    requires: {},
    enabled: true,
    activation: 'all',
  },
};
const webModule = (config: Record<string, string>, extra = {}) => ({
  type: 'web',
  config,
  requires: {},
  enabled: true,
  activation: 'all' as const,
  ...extra,
});

describe('decide', () => {
  it('creates a node that does not exist', () =>
    given()
      .when({ kind: 'PutNode', properties: { a: '1' } })
      .then([created]));

  it('records only the properties that changed, and nothing when none did', () => {
    given(created)
      .when({ kind: 'PutNode', properties: { a: '2', b: 'x' } })
      .then([
        {
          type: 'NodePropertiesChanged',
          data: {
            changes: [
              { key: 'a', old: '1', new: '2' },
              { key: 'b', old: null, new: 'x' },
            ],
          },
        },
      ]);
    given(created)
      .when({ kind: 'PutNode', properties: { a: '1' } })
      .then([]);
  });

  it('refuses a bad node ID, naming the rule', () =>
    expect(() => decide(null, 'has space', { kind: 'PutNode', properties: {} }, catalog)).toThrow(
      /nodeId must be 1-30 characters/,
    ));

  it('adds a module, then records a config change as changed keys', () => {
    given(created)
      .when({ kind: 'PutModule', moduleId: 'web', module: webModule({ port: '80' }) })
      .then([webAdded]);
    given(created, webAdded)
      .when({ kind: 'PatchModuleConfig', moduleId: 'web', changes: { port: '81', message: 'hi' } })
      .then([
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: 'web',
            changes: [
              { key: 'message', old: null, new: 'hi' },
              { key: 'port', old: '80', new: '81' },
            ],
          },
        },
      ]);
  });

  it('removes a config key patched to null', () =>
    given(created, webAdded)
      .when({ kind: 'PatchModuleConfig', moduleId: 'web', changes: { port: null } })
      .then([
        {
          type: 'ModuleConfigChanged',
          data: { moduleId: 'web', changes: [{ key: 'port', old: '80', new: null }] },
        },
      ]));

  it("validates config against the module type's schema", () =>
    given(created, webAdded)
      .when({ kind: 'PatchModuleConfig', moduleId: 'web', changes: { port: 'eighty' } })
      .thenFails('invalid', /config.port must be an integer/));

  // A type no live process has registered yet (a user's type whose workers are not up) is
  // stored as it is; the API's answer warns of it and the worker that applies it checks it.
  it('stores a module of a type the catalogue does not know, unchecked', () =>
    given(created)
      .when({
        kind: 'PutModule',
        moduleId: 'x',
        module: { ...webModule({ anything: 'goes' }), type: 'nope' },
      })
      .then([
        {
          type: 'ModuleAdded',
          data: { moduleId: 'x', ...webModule({ anything: 'goes' }), type: 'nope' },
        },
      ]));

  it('keeps unknown module types when seeding from a properties file', () => {
    const events = decide(
      null,
      'n1',
      {
        kind: 'SeedNode',
        properties: {},
        modules: [
          {
            moduleId: 'fhir',
            type: 'ENDPOINT_FHIR',
            config: { x: '1' },
            requires: {},
            enabled: true,
            activation: 'all',
          },
        ],
      },
      catalog,
    );
    expect(events.map((e) => e.type)).toEqual(['NodeCreated', 'ModuleAdded']);
  });

  it('checks that requires names a module providing the role, and finds cycles', () => {
    given(created, webAdded)
      .when({
        kind: 'PutModule',
        moduleId: 'web2',
        module: webModule({}, { requires: { SECURITY_IN_UP: 'web' } }),
      })
      .thenFails('invalid', /whose type "web" does not provide SECURITY_IN_UP/);
    given(created, securityAdded)
      .when({
        kind: 'PutModule',
        moduleId: 'web',
        module: webModule({}, { requires: { SECURITY_IN_UP: 'sec' } }),
      })
      .then([
        {
          type: 'ModuleAdded',
          data: {
            moduleId: 'web',
            type: 'web',
            config: {},
            requires: { SECURITY_IN_UP: 'sec' },
            enabled: true,
            activation: 'all',
          },
        },
      ]);
  });

  it('refuses to remove a module that another one requires', () => {
    const dependent: NodeEvent = {
      ...webAdded,
      data: { ...webAdded.data, requires: { SECURITY_IN_UP: 'sec' } },
    } as NodeEvent;
    given(created, securityAdded, dependent)
      .when({ kind: 'RemoveModule', moduleId: 'sec' })
      .thenFails('conflict', /required by module "web"/);
  });

  it('restarts as a stop and a start, which bump the generation', () => {
    given(created, webAdded)
      .when({ kind: 'RestartModule', moduleId: 'web' })
      .then([
        { type: 'ModuleStopped', data: { moduleId: 'web', restart: true } },
        { type: 'ModuleStarted', data: { moduleId: 'web', restart: true } },
      ]);
    const doc = evolveAll(emptyNode('n1'), [
      created,
      webAdded,
      { type: 'ModuleStopped', data: { moduleId: 'web', restart: true } },
      { type: 'ModuleStarted', data: { moduleId: 'web', restart: true } },
    ]);
    expect(doc.modules[0]).toMatchObject({ enabled: true, generation: 1 });
    expect(doc.version).toBe(4);
  });

  it('start and stop are idempotent', () => {
    given(created, webAdded).when({ kind: 'StartModule', moduleId: 'web' }).then([]);
    given(created, webAdded)
      .when({ kind: 'StopModule', moduleId: 'web' })
      .then([{ type: 'ModuleStopped', data: { moduleId: 'web' } }]);
  });

  it('marks secret keys, and a redacted value sent back keeps the stored secret', () => {
    given(created, securityAdded)
      .when({
        kind: 'PutModule',
        moduleId: 'sec',
        module: { ...webModule({ users: REDACTED, db_password: 'p' }), type: 'security' },
      })
      .then([
        {
          type: 'ModuleConfigChanged',
          data: {
            moduleId: 'sec',
            changes: [{ key: 'db_password', old: null, new: 'p', secret: true }],
          },
        },
      ]);
  });

  it('answers not-found for modules of a node that does not exist or is archived', () => {
    given()
      .when({ kind: 'StartModule', moduleId: 'web' })
      .thenFails('not-found', /node "n1" does not exist/);
    given(created, { type: 'NodeArchived', data: {} })
      .when({ kind: 'ArchiveNode' })
      .thenFails('not-found', /does not exist/);
  });
});
