import { DomainError } from './errors';
import { emptyNode, NodeDocument } from './node-document';
import {
  assertOneWriterPerDatabase,
  changesPersistenceModules,
  databaseKey,
  persistenceModulesOf,
  PersistenceModuleRef,
  writableDuplicate,
} from './persistence-databases';

const ref = (
  nodeId: string,
  url: string,
  more: Partial<PersistenceModuleRef> & { readOnly?: boolean } = {},
): PersistenceModuleRef => ({
  nodeId,
  moduleId: more.moduleId ?? 'persistence',
  enabled: more.enabled ?? true,
  config: { 'db.url': url, ...(more.readOnly ? { 'read_only_mode.enabled': 'true' } : {}) },
});

describe('one writer per persistence database', () => {
  it('reads JDBC and postgres URLs as the same database', () => {
    expect(databaseKey('jdbc:postgresql://DB.internal:5432/cdr?ssl=true')).toBe(
      'db.internal:5432/cdr',
    );
    expect(databaseKey('postgres://user:pw@db.internal/cdr')).toBe('db.internal:5432/cdr');
    expect(databaseKey('postgresql://localhost:5433/cdr')).toBe('127.0.0.1:5433/cdr');
    expect(databaseKey('mysql://db/cdr')).toBeNull();
  });

  it('given a writable module on one node, a writable one on another node with the same database is refused', () => {
    const modules = [
      ref('fhir_node', 'jdbc:postgresql://127.0.0.1:5432/cdr'),
      ref('admin_node', 'postgres://localhost/cdr', { moduleId: 'db' }),
    ];
    expect(writableDuplicate(modules)).toMatchObject({
      database: '127.0.0.1:5432/cdr',
      first: { nodeId: 'fhir_node' },
      second: { nodeId: 'admin_node', moduleId: 'db' },
    });
    let error: unknown;
    try {
      assertOneWriterPerDatabase(modules);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('conflict');
    expect((error as DomainError).message).toBe(
      'module "persistence" of node "fhir_node" and module "db" of node "admin_node" are both writable ' +
        'persistence modules on database 127.0.0.1:5432/cdr (db.url): only one node may write to a database. ' +
        'Set read_only_mode.enabled=true on one of them (it then only reads job status).',
    );
  });

  it('allows read-only or disabled duplicates, other databases, and modules of one node', () => {
    const url = 'postgres://db/cdr';
    expect(writableDuplicate([ref('a', url), ref('b', url, { readOnly: true })])).toBeNull();
    expect(writableDuplicate([ref('a', url), ref('b', url, { enabled: false })])).toBeNull();
    expect(writableDuplicate([ref('a', url), ref('b', 'postgres://db/other')])).toBeNull();
    expect(writableDuplicate([ref('a', url), ref('a', url, { moduleId: 'second' })])).toBeNull();
  });

  it('runs the guard only when a write changes persistence modules', () => {
    const before: NodeDocument = {
      ...emptyNode('n'),
      version: 1,
      modules: [
        {
          moduleId: 'p',
          type: 'persistence',
          config: { 'db.url': 'postgres://db/a' },
          requires: {},
          enabled: true,
        } as any,
      ],
    };
    const propertiesOnly = { ...before, version: 2, properties: { x: '1' } };
    const urlChanged = {
      ...before,
      version: 2,
      modules: [{ ...before.modules[0], config: { 'db.url': 'postgres://db/b' } }],
    };
    expect(changesPersistenceModules(before, propertiesOnly)).toBe(false);
    expect(changesPersistenceModules(before, urlChanged)).toBe(true);
    expect(changesPersistenceModules(null, before)).toBe(true);
    expect(persistenceModulesOf({ ...before, archived: true })).toEqual([]);
  });
});
