import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import type { ModuleContext, ModuleSessionStore, ModuleType } from '@plexus/module-sdk';
import { NodeDocument } from '@plexus/domain';
import { silentLogger } from '@plexus/common';
import { waitFor } from '../../../../test/support/ports';
import { ModuleTypeRegistry } from '../registry';
import { ModuleHost } from './module-host';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A user-style module type (SDK only) that opens a session realm through its context. */
const opened: ModuleSessionStore[] = [];
const sessionUser: ModuleType = {
  name: 'session-user',
  version: '1.0.0',
  description: 'opens the realm of its config',
  configSchema: { type: 'object', properties: { realm: { type: 'string' } }, required: ['realm'] },
  async start(ctx: ModuleContext) {
    const store = await ctx.sessions!(ctx.config.realm, { idleTimeoutMs: 60_000 });
    opened.push(store);
    return {
      reconfigure: async () => 'restart' as const,
      stop: () => store.close(),
      health: () => ({ status: 'UP' as const }),
    };
  },
};

describe('ctx.sessions: the shared session store as the SDK offers it (real NATS)', () => {
  const connections: NatsConnection[] = [];
  const hosts: ModuleHost[] = [];
  const realm = `sdk-${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    for (const h of hosts) await h.stopAll();
    for (const nc of connections) await nc.close();
  });

  it('a session created by a module on one process is valid on another, until revoked there', async () => {
    for (const i of [0, 1]) {
      const nc = await connect({ servers: NATS_URL, name: `module-sessions-int-${i}` });
      connections.push(nc);
      const host = new ModuleHost({
        registry: new ModuleTypeRegistry([sessionUser]),
        nodeId: 'sdk_node',
        processId: `p${i}`,
        portOffset: 0,
        logger: silentLogger,
        services: { nats: nc },
      });
      hosts.push(host);
      const doc: NodeDocument = {
        nodeId: 'sdk_node',
        version: 1,
        archived: false,
        properties: {},
        modules: [
          {
            moduleId: 'sessions',
            type: 'session-user',
            config: { realm },
            requires: {},
            enabled: true,
            activation: 'all',
            generation: 0,
          },
        ],
      };
      expect((await host.apply(doc))?.ok).toBe(true);
    }
    const [a, b] = opened;
    const { token, expiresAt } = await a.create('alice', { role: 'admin' });
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(await b.validate(token)).toMatchObject({
      user: 'alice',
      attributes: { role: 'admin' },
    });
    expect(await b.revoke(token)).toBe(true);
    // the revocation reaches the other process through the bucket's watch
    await waitFor('the revocation to reach process p0', async () =>
      (await a.validate(token)) === null ? true : null,
    );
  });
});
