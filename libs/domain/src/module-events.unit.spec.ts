import { dependencyOrder, moduleChangeEvents, moduleListEvents } from './module-events';
import { NodeEvent } from './events';
import { ModuleSpec } from './node-document';
import { REDACTED } from './secrets';
import { fakeCatalog as catalog } from './testing/fake-catalog';

const spec = (moduleId: string, extra: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type: 'web',
  config: {},
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...extra,
});

/** The module an event is about. */
const idOf = (e: NodeEvent) => ('moduleId' in e.data ? e.data.moduleId : null);

describe('module change events', () => {
  it('given an unchanged module, when compared, then there are no events', () => {
    const m = spec('web', { config: { port: '80' }, requires: { A: 'x', B: 'y' } });
    expect(moduleChangeEvents(m, { ...m, requires: { B: 'y', A: 'x' } }, catalog)).toEqual([]);
  });

  it('given a type change that drops a secret key, when compared, then the old secret stays marked and recorded', () => {
    // given a security module whose `users` is secret by its type
    const current = spec('sec', { type: 'security', config: { users: 'alice:hash' } });
    // when it becomes a web module that keeps `users`, and is stopped
    const events = moduleChangeEvents(
      current,
      { ...current, type: 'web', config: { users: 'bob:hash' }, enabled: false },
      catalog,
    );
    // then the change is secret, the record keeps the key, and the stop follows
    expect(events).toEqual([
      {
        type: 'ModuleConfigChanged',
        data: {
          moduleId: 'sec',
          changes: [{ key: 'users', old: 'alice:hash', new: 'bob:hash', secret: true }],
          type: 'web',
          secretKeys: ['users'],
        },
      },
      { type: 'ModuleStopped', data: { moduleId: 'sec' } },
    ]);
  });

  it('given a recorded secret key the module drops, when compared, then the record is emptied', () => {
    const current = spec('w', { config: { users: REDACTED }, secretKeys: ['users'] });
    expect(moduleChangeEvents(current, { ...current, config: {} }, catalog)).toEqual([
      {
        type: 'ModuleConfigChanged',
        data: {
          moduleId: 'w',
          changes: [{ key: 'users', old: REDACTED, new: null, secret: true }],
          secretKeys: [],
        },
      },
    ]);
  });

  it('given two module lists, when compared, then adds follow what they require and removals precede it', () => {
    const sec = spec('sec', { type: 'security' });
    const web = spec('web', { requires: { SECURITY_IN_UP: 'sec' } });
    const old = spec('old');
    const events = moduleListEvents([old, { ...web, activation: 'single' }], [web, sec], catalog);
    expect(events.map((e) => [e.type, idOf(e)])).toEqual([
      ['ModuleAdded', 'sec'],
      ['ModuleConfigChanged', 'web'],
      ['ModuleRemoved', 'old'],
    ]);
    expect(moduleListEvents([web, sec], [], catalog).map((e) => idOf(e))).toEqual(['web', 'sec']);
  });

  it('orders modules after those they require, keeping the given order otherwise', () => {
    const a = spec('a', { requires: { R: 'c' } });
    const b = spec('b');
    const c = spec('c', { requires: { R: 'missing' } });
    expect(dependencyOrder([a, b, c]).map((m) => m.moduleId)).toEqual(['c', 'a', 'b']);
  });
});
