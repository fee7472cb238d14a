import { randomBytes } from 'node:crypto';
import { ModuleSpec, NodeDocument, StringMap } from '@plexus/domain';
import { NO_SECRETS_KEY, SecretsCipher, SecretsDecryptor } from '@plexus/secrets-crypto';
import { ModuleHost } from './module-host';
import type { ModuleInstance, ModuleType } from '@plexus/module-sdk';
import { ModuleTypeRegistry } from '../registry';

/** A module type whose `token` key is secret; it records every config it is handed. */
function vaultType(seen: StringMap[]): ModuleType {
  return {
    name: 'vault',
    version: '1.0.0',
    description: 'test type with a secret key',
    secretKeys: ['token'],
    configSchema: { type: 'object', properties: {} },
    async start(ctx): Promise<ModuleInstance> {
      seen.push({ ...ctx.config });
      return {
        stop: async () => undefined,
        reconfigure: async (_ctx, { config }) => {
          seen.push({ ...config });
          return 'applied';
        },
        health: () => ({ status: 'UP' }),
      };
    },
  };
}

const cipher = new SecretsCipher(randomBytes(32));
const mod = (moduleId: string, config: StringMap, over: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type: 'vault',
  config,
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...over,
});
const doc = (version: number, modules: ModuleSpec[]): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived: false,
  properties: {},
  modules,
});

function host(secrets: SecretsDecryptor) {
  const seen: StringMap[] = [];
  const logged: string[] = [];
  const log = (message: string, fields?: Record<string, unknown>) =>
    logged.push(`${message} ${JSON.stringify(fields ?? {})}`);
  const h = new ModuleHost({
    registry: new ModuleTypeRegistry([vaultType(seen)]),
    nodeId: 'n1',
    processId: 'p1',
    portOffset: 0,
    logger: { log, warn: log, error: log },
    secrets,
  });
  return { h, seen, logged };
}

describe('ModuleHost with secrets encrypted at rest', () => {
  it('hands modules their secrets decrypted, and a re-encrypted but equal secret changes nothing', async () => {
    const { h, seen } = host(cipher);
    await h.apply(doc(1, [mod('v', { token: cipher.encrypt('t0k3n'), url: 'u' })]));
    expect(seen).toEqual([{ token: 't0k3n', url: 'u' }]);
    // the next write re-encrypts the same secret (a fresh IV): the module is not touched
    await h.apply(doc(2, [mod('v', { token: cipher.encrypt('t0k3n'), url: 'u' })]));
    expect(seen).toHaveLength(1);
    // a changed secret is reconfigured, decrypted; suffix-rule keys are decrypted too
    const result = await h.apply(
      doc(3, [
        mod('v', { token: cipher.encrypt('new'), url: 'u', db_password: cipher.encrypt('pw') }),
      ]),
    );
    expect(seen[1]).toEqual({ token: 'new', url: 'u', db_password: 'pw' });
    expect(result?.modules.v).toMatchObject({ state: 'running', version: 3 });
  });

  it('without the key, fails the module naming PLEXUS_SECRETS_KEY, runs the others, never crashes or logs the value', async () => {
    const { h, seen, logged } = host(NO_SECRETS_KEY);
    const sealed = cipher.encrypt('t0k3n');
    const result = await h.apply(
      doc(1, [mod('locked', { token: sealed }), mod('open', { token: 'plain', url: 'u' })]),
    );
    expect(result?.ok).toBe(false);
    expect(result?.modules.locked).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(
        /config\.token is encrypted with key \w{8}, but PLEXUS_SECRETS_KEY is not set in this process/,
      ),
    });
    expect(result?.modules.open).toMatchObject({ state: 'running' });
    expect(seen).toEqual([{ token: 'plain', url: 'u' }]);
    // a running module whose new config cannot be decrypted keeps its old config
    const next = await h.apply(
      doc(2, [
        mod('locked', { token: sealed }),
        mod('open', { token: cipher.encrypt('x'), url: 'u' }),
      ]),
    );
    expect(next?.modules.open).toMatchObject({
      state: 'failed',
      version: 1,
      error: expect.stringMatching(
        /PLEXUS_SECRETS_KEY is not set.*still running the config of version 1/,
      ),
    });
    expect(logged.join('\n')).not.toContain('t0k3n');
    expect(logged.join('\n')).not.toContain(sealed);
  });
});
