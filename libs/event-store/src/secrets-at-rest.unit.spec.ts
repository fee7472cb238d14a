import { randomBytes } from 'node:crypto';
import { NodeDocument } from '@plexus/domain';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { openDocument, sealDocument, toNewEvent } from './secrets-at-rest';

const catalog = builtInModuleTypes();
const keyA = randomBytes(32);
const cipher = new SecretsCipher(keyA);
const doc = (users: string, token: string, version = 2): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived: false,
  properties: { api_token: token, region: 'eu' },
  modules: [
    {
      moduleId: 'sec',
      type: 'local-security',
      config: { users, 'sessions.timeout.mins': '30' },
      requires: {},
      enabled: true,
      activation: 'all',
      generation: 0,
    },
  ],
});

describe('sealDocument', () => {
  it('encrypts exactly the secret values, and openDocument gives them back', () => {
    const plain = doc('alice:h1', 't1');
    const stored = sealDocument(plain, catalog, cipher);
    expect(stored.properties.region).toBe('eu');
    expect(stored.properties.api_token).toMatch(/^enc:v1:/);
    expect(stored.modules[0].config.users).toMatch(/^enc:v1:/);
    expect(stored.modules[0].config['sessions.timeout.mins']).toBe('30');
    expect(openDocument(stored, catalog, cipher)).toEqual(plain);
  });

  it('keeps the ciphertext of a secret the write did not change, and encrypts the changed one', () => {
    const plain = doc('alice:h1', 't1');
    const stored = sealDocument(plain, catalog, cipher);
    const next = sealDocument(doc('alice:h1', 't2', 3), catalog, cipher, { plain, stored });
    expect(next.modules[0].config.users).toBe(stored.modules[0].config.users);
    expect(next.properties.api_token).not.toBe(stored.properties.api_token);
    expect(cipher.decrypt(next.properties.api_token)).toBe('t2');
  });

  it('re-encrypts a kept value that is under an older key or was stored in clear', () => {
    const plain = doc('alice:h1', 't1');
    const storedWithA = sealDocument(plain, catalog, cipher);
    const rotated = new SecretsCipher(randomBytes(32), [keyA]);
    const next = sealDocument(plain, catalog, rotated, { plain, stored: storedWithA });
    expect(next.modules[0].config.users).toContain(`:${rotated.keyId}:`);
    const inClear = sealDocument(plain, catalog, rotated, { plain, stored: plain });
    expect(inClear.properties.api_token).toMatch(/^enc:v1:/);
  });
});

describe('toNewEvent', () => {
  it('stores a secret-only payload, encrypted, only for events that carry secrets', () => {
    const meta = { actor: 'admin', correlationId: 'c' };
    const added = toNewEvent(
      {
        type: 'ModuleAdded',
        data: { ...doc('alice:h1', 't').modules[0] },
      },
      catalog,
      meta,
      cipher,
    );
    expect(added.data.config).toEqual({ users: '******', 'sessions.timeout.mins': '30' });
    expect((added.secretData!.config as any).users).toMatch(/^enc:v1:/);
    const plain = toNewEvent(
      { type: 'ModuleStarted', data: { moduleId: 'sec' } },
      catalog,
      meta,
      cipher,
    );
    expect(plain.secretData).toBeUndefined();
  });
});
