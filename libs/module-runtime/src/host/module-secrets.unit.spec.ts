import { randomBytes } from 'node:crypto';
import { ModuleSpec, ModuleTypeInfo, NodeDocument } from '@plexus/domain';
import { NO_SECRETS_KEY, SecretsCipher } from '@plexus/secrets-crypto';
import { ModuleSecrets } from './module-secrets';

const vault: ModuleTypeInfo = {
  type: 'vault',
  description: 'test type with a secret key',
  secretKeys: ['token'],
  provides: [],
  validateConfig: () => [],
};
const catalog = { get: (type: string) => (type === 'vault' ? vault : undefined) };
const cipher = new SecretsCipher(randomBytes(32));

const mod = (moduleId: string, token: string): ModuleSpec => ({
  moduleId,
  type: 'vault',
  config: { token, url: 'u' },
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
});

const doc = (version: number, modules: ModuleSpec[]): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived: false,
  properties: {},
  modules,
});

describe('ModuleSecrets', () => {
  it('decrypts a secret value once: the next document holding the same value reuses it', () => {
    // given a decryptor that counts its work
    const decrypted: string[] = [];
    const counting = {
      decrypt: (value: string) => {
        decrypted.push(value);
        return cipher.decrypt(value);
      },
    };
    const secrets = new ModuleSecrets(catalog, counting);
    const a = cipher.encrypt('a-secret');
    const b = cipher.encrypt('b-secret');
    // when two documents hold the same value of `a`, and `b` changes in the second
    const first = secrets.open(doc(1, [mod('a', a)]));
    const second = secrets.open(doc(2, [mod('a', a), mod('b', b)]));
    // then each value was decrypted once, and modules get plaintext
    expect(decrypted).toEqual([a, b]);
    expect(secrets.configOf(first.modules[0])).toEqual({ token: 'a-secret', url: 'u' });
    expect(secrets.configOf(second.modules[1])).toEqual({ token: 'b-secret', url: 'u' });
    // and a document opened already is not opened again
    expect(secrets.open(second)).toBe(second);
    expect(decrypted).toHaveLength(2);
  });

  it('refuses to hand over a config whose secrets could not be decrypted, naming the key', () => {
    const secrets = new ModuleSecrets(catalog, NO_SECRETS_KEY);
    const opened = secrets.open(doc(1, [mod('a', cipher.encrypt('x'))]));
    expect(() => secrets.configOf(opened.modules[0])).toThrow(/config\.token is encrypted/);
  });
});
