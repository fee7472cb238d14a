import { NodeCommand } from './commands';
import { decide } from './decide';
import { diffDocuments } from './diff';
import { ModuleConfigChanged, NodeEvent } from './events';
import { evolveAll } from './evolve';
import { emptyNode, NodeDocument } from './node-document';
import {
  mapDocumentSecrets,
  mapEventSecrets,
  moduleSecretKeys,
  redactDocument,
  redactEvent,
  REDACTED,
} from './secrets';
import { fakeCatalog as catalog } from './testing/fake-catalog';

const HASH = 'alice:scrypt$hash-of-alice';

const created: NodeEvent = { type: 'NodeCreated', data: { properties: { region: 'eu' } } };
const securityAdded: NodeEvent = {
  type: 'ModuleAdded',
  data: {
    moduleId: 'sec',
    type: 'security',
    config: { users: HASH, 'sessions.timeout.mins': '30' },
    requires: {},
    enabled: true,
    activation: 'all',
  },
};
const asWeb = (config: Record<string, string>): NodeCommand => ({
  kind: 'PutModule',
  moduleId: 'sec',
  module: { type: 'web', config, requires: {}, enabled: true, activation: 'all' },
});

/** The node after `events`, and what `command` makes of it: events, next document. */
function run(events: NodeEvent[], command: NodeCommand) {
  const state: NodeDocument = evolveAll(emptyNode('n1'), events);
  const produced = decide(state, 'n1', command, catalog);
  return { state, produced, next: evolveAll(state, produced) };
}

/** Everything a reader of the event (API, NATS, webhooks, auditors) could see, as text. */
const shown = (events: NodeEvent[]) => JSON.stringify(events.map((e) => redactEvent(e, catalog)));

describe('secrets across a type change', () => {
  it('a key secret under the old type is redacted in the event of a PUT that changes the type', () => {
    // given a security module whose users are secret under its type
    // when it is re-put as a web module without them
    const { produced } = run([created, securityAdded], asWeb({ port: '80' }));
    // then the removed users are marked secret, and no reader sees the hash
    expect(produced).toEqual([
      {
        type: 'ModuleConfigChanged',
        data: {
          moduleId: 'sec',
          changes: [
            { key: 'port', old: null, new: '80' },
            { key: 'sessions.timeout.mins', old: '30', new: null },
            { key: 'users', old: HASH, new: null, secret: true },
          ],
          type: 'web',
        },
      },
    ]);
    expect(shown(produced)).not.toContain(HASH);
  });

  it(`a kept secret (sent back as ${REDACTED}) keeps its value and stays secret under the new type`, () => {
    // when the module is re-put as web with users sent back masked
    const { produced, next } = run(
      [created, securityAdded],
      asWeb({ port: '80', users: REDACTED }),
    );
    // then the stored hash is kept, the node records users as secret, and nothing shows it
    expect((produced[0] as ModuleConfigChanged).data).toMatchObject({
      type: 'web',
      secretKeys: ['users'],
    });
    expect(next.modules[0]).toMatchObject({ type: 'web', secretKeys: ['users'] });
    expect(next.modules[0].config.users).toBe(HASH);
    expect(JSON.stringify(redactDocument(next, catalog))).not.toContain(HASH);
    expect(shown(produced)).not.toContain(HASH);
  });

  it('a recorded secret stays secret for later changes, and stops being one once removed', () => {
    const kept = run([created, securityAdded], asWeb({ port: '80', users: REDACTED }));
    const history = [created, securityAdded, ...kept.produced];
    // when the kept key is patched on the web module
    const patched = run(history, {
      kind: 'PatchModuleConfig',
      moduleId: 'sec',
      changes: { users: 'bob:scrypt$hash-of-bob' },
    });
    expect(shown(patched.produced)).not.toContain('hash-of-bob');
    expect(shown(patched.produced)).not.toContain(HASH);
    // when a PUT drops it: the removal is redacted and the record goes
    const dropped = run(history, asWeb({ port: '80' }));
    expect(shown(dropped.produced)).not.toContain(HASH);
    expect((dropped.produced[0] as ModuleConfigChanged).data.secretKeys).toEqual([]);
    expect(dropped.next.modules[0].secretKeys).toBeUndefined();
    // a masked value sent for the kept key in a PATCH keeps it too
    const masked = run(history, {
      kind: 'PatchModuleConfig',
      moduleId: 'sec',
      changes: { users: REDACTED, port: '81' },
    });
    expect(masked.next.modules[0].config.users).toBe(HASH);
  });

  it('a revert across the type change never shows the old secret, either way', () => {
    const v2 = evolveAll(emptyNode('n1'), [created, securityAdded]);
    const v3 = run([created, securityAdded], asWeb({ port: '80' })).next;
    // reverting the web module back to security brings the hash back, redacted
    const back = decide(v3, 'n1', { kind: 'RestoreNode', target: v2 }, catalog);
    expect(evolveAll(v3, back).modules[0].config.users).toBe(HASH);
    expect(shown(back)).not.toContain(HASH);
    // reverting the security module to the web version removes it, redacted
    const forth = decide(v2, 'n1', { kind: 'RestoreNode', target: v3 }, catalog);
    expect(shown(forth)).not.toContain(HASH);
    // a revert to a version where web kept the secret records it again
    const v3kept = run([created, securityAdded], asWeb({ port: '80', users: REDACTED })).next;
    const again = decide(v2, 'n1', { kind: 'RestoreNode', target: v3kept }, catalog);
    const restored = evolveAll(v2, again);
    expect(restored.modules[0]).toMatchObject({ type: 'web', secretKeys: ['users'] });
    expect(JSON.stringify(redactDocument(restored, catalog))).not.toContain(HASH);
  });

  it('a diff across the type change redacts the old secret', () => {
    const v2 = evolveAll(emptyNode('n1'), [created, securityAdded]);
    const dropped = run([created, securityAdded], asWeb({ port: '80' })).next;
    const kept = run([created, securityAdded], asWeb({ port: '81', users: REDACTED })).next;
    const changedUsers = { ...kept, modules: [{ ...kept.modules[0], config: { users: 'x:y' } }] };
    for (const [a, b] of [
      [v2, dropped],
      [dropped, v2],
      [v2, kept],
      [kept, changedUsers],
    ])
      expect(JSON.stringify(diffDocuments(a, b, catalog))).not.toMatch(/hash-of-alice|x:y/);
    // removed and added modules are redacted by their own record
    const without = { ...kept, modules: [] };
    expect(JSON.stringify(diffDocuments(kept, without, catalog))).not.toContain(HASH);
    expect(JSON.stringify(diffDocuments(without, kept, catalog))).not.toContain(HASH);
  });

  it('an import that changes the type keeps a masked secret and records it', () => {
    const v2 = evolveAll(emptyNode('n1'), [created, securityAdded]);
    const produced = decide(
      v2,
      'n1',
      {
        kind: 'ImportNode',
        properties: { region: 'eu' },
        modules: [
          {
            moduleId: 'sec',
            type: 'web',
            config: { users: REDACTED },
            requires: {},
            enabled: true,
            activation: 'all',
          },
        ],
      },
      catalog,
    );
    const next = evolveAll(v2, produced);
    expect(next.modules[0]).toMatchObject({ type: 'web', secretKeys: ['users'] });
    expect(next.modules[0].config.users).toBe(HASH);
    expect(shown(produced)).not.toContain(HASH);
  });
});

describe('secret values of documents and events', () => {
  const v2 = evolveAll(emptyNode('n1'), [
    { type: 'NodeCreated', data: { properties: { region: 'eu', api_token: 't0k' } } },
    securityAdded,
    {
      type: 'ModuleAdded',
      data: {
        moduleId: 'web',
        type: 'web',
        config: { port: '80', admin_password: 'pw' },
        requires: {},
        enabled: true,
        activation: 'all',
      },
    },
  ]);
  const upper = (value: string) => `<${value.toUpperCase()}>`;

  it('maps exactly the secret values of a document: type keys, recorded keys and the suffix rule', () => {
    const mapped = mapDocumentSecrets(v2, catalog, upper);
    expect(mapped.properties).toEqual({ region: 'eu', api_token: '<T0K>' });
    expect(mapped.modules[0].config).toEqual({
      users: `<${HASH.toUpperCase()}>`,
      'sessions.timeout.mins': '30',
    });
    expect(mapped.modules[1].config).toEqual({ port: '80', admin_password: '<PW>' });
    expect(v2.modules[0].config.users).toBe(HASH); // the input is left alone
  });

  it('returns the same objects when there is nothing secret to map (no copies on the hot path)', () => {
    const plain = evolveAll(emptyNode('n1'), [
      { type: 'NodeCreated', data: { properties: { region: 'eu' } } },
    ]);
    expect(mapDocumentSecrets(plain, catalog, upper)).toBe(plain);
    const event: NodeEvent = {
      type: 'ModuleConfigChanged',
      data: { moduleId: 'web', changes: [{ key: 'port', old: '80', new: '81' }] },
    };
    expect(mapEventSecrets(event, catalog, upper)).toBe(event);
  });

  it('maps the secret values of events: added configs, created properties, secret changes', () => {
    const changed: NodeEvent = {
      type: 'ModuleConfigChanged',
      data: {
        moduleId: 'sec',
        changes: [
          { key: 'port', old: null, new: '80' },
          { key: 'users', old: HASH, new: null, secret: true },
        ],
      },
    };
    expect(mapEventSecrets(changed, catalog, upper).data).toEqual({
      moduleId: 'sec',
      changes: [
        { key: 'port', old: null, new: '80' },
        { key: 'users', old: `<${HASH.toUpperCase()}>`, new: null, secret: true },
      ],
    });
    expect(mapEventSecrets(securityAdded, catalog, upper).data).toMatchObject({
      config: { users: `<${HASH.toUpperCase()}>`, 'sessions.timeout.mins': '30' },
    });
    expect(
      mapEventSecrets(
        { type: 'NodeCreated', data: { properties: { a_secret: 's', b: 'b' } } },
        catalog,
        upper,
      ).data,
    ).toEqual({ properties: { a_secret: '<S>', b: 'b' } });
  });

  it("a module's secret keys are its record and its type's", () => {
    expect(moduleSecretKeys({ type: 'security' }, catalog)).toEqual(['users']);
    expect(moduleSecretKeys({ type: 'web', secretKeys: ['users'] }, catalog)).toEqual(['users']);
    expect(moduleSecretKeys({ type: 'unknown' }, catalog)).toEqual([]);
  });
});
