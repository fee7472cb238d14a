import { ModuleSpec, StringMap } from '@plexus/domain';
import type { ModuleHealth, ModuleInstance, ModuleType } from '@plexus/module-sdk';
import { ModuleTypeRegistry } from '../registry';
import { ModuleHost } from './module-host';
import { healthOfIdle, probeHealth } from './module-health';

const instance = (over: Partial<ModuleInstance> = {}): ModuleInstance => ({
  reconfigure: async () => 'applied',
  stop: async () => undefined,
  health: () => ({ status: 'UP' }),
  ...over,
});

describe('probeHealth', () => {
  it("answers the instance's own health", async () => {
    const health: ModuleHealth = { status: 'DEGRADED', details: { lag: 3 } };
    expect(await probeHealth(instance({ health: async () => health }))).toEqual(health);
    expect(await probeHealth(instance({ health: () => ({ status: 'UP' }) }))).toEqual({
      status: 'UP',
    });
  });

  it('is DOWN with the error when health() throws or rejects', async () => {
    const throwing = instance({
      health: () => {
        throw new Error('pool closed');
      },
    });
    expect(await probeHealth(throwing)).toEqual({
      status: 'DOWN',
      details: { error: 'pool closed' },
    });
    const rejecting = instance({ health: async () => Promise.reject(new Error('refused')) });
    expect(await probeHealth(rejecting)).toEqual({ status: 'DOWN', details: { error: 'refused' } });
  });

  it('is DOWN once health() takes longer than the bound', async () => {
    const hanging = instance({ health: () => new Promise<ModuleHealth>(() => undefined) });
    const started = Date.now();
    const health = await probeHealth(hanging, 50);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(health).toEqual({
      status: 'DOWN',
      details: { error: 'health() did not finish within 50 ms' },
    });
  });

  it('is DOWN when health() answers something that is not a health', async () => {
    const odd = instance({ health: async () => ({ status: 'FINE' }) as unknown as ModuleHealth });
    expect((await probeHealth(odd)).status).toBe('DOWN');
  });

  it('without health() (a plain JavaScript type) is UP, since it runs', async () => {
    const bare = { reconfigure: async () => 'applied', stop: async () => undefined };
    expect(await probeHealth(bare as unknown as ModuleInstance)).toEqual({ status: 'UP' });
  });

  it('gives a failed module DOWN with its error and an idle one no health', () => {
    expect(healthOfIdle({ state: 'failed', version: 2, error: 'port taken' })).toEqual({
      status: 'DOWN',
      details: { error: 'port taken' },
    });
    expect(healthOfIdle({ state: 'standby', version: 2 })).toBeUndefined();
    expect(healthOfIdle({ state: 'stopped', version: 2 })).toBeUndefined();
  });
});

describe('ModuleHost.health', () => {
  const type: ModuleType = {
    name: 'thing',
    version: '1.0.0',
    description: 'thing',
    configSchema: {
      type: 'object',
      properties: { fail: { type: 'string' }, health: { type: 'string' } },
    },
    async start({ config }): Promise<ModuleInstance> {
      if (config.fail) throw new Error(config.fail);
      const health = config.health as ModuleHealth['status'] | undefined;
      return instance(health ? { health: () => ({ status: health }) } : {});
    },
  };
  const mod = (moduleId: string, config: StringMap, over: Partial<ModuleSpec> = {}) =>
    ({
      moduleId,
      type: 'thing',
      config,
      requires: {},
      enabled: true,
      activation: 'all',
      generation: 0,
      ...over,
    }) as ModuleSpec;

  it('reports running modules by their health, failed ones DOWN, and not the others', async () => {
    const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
    const host = new ModuleHost({
      registry: new ModuleTypeRegistry([type]),
      nodeId: 'n',
      processId: 'p',
      portOffset: 0,
      logger: quiet,
    });
    await host.apply({
      nodeId: 'n',
      version: 1,
      archived: false,
      properties: {},
      modules: [
        mod('plain', {}),
        mod('sick', { health: 'DOWN' }),
        mod('slow', { health: 'DEGRADED' }),
        mod('broken', { fail: 'cannot connect' }),
        mod('off', {}, { enabled: false }),
      ],
    });
    expect(await host.health()).toEqual({
      plain: { status: 'UP' },
      sick: { status: 'DOWN' },
      slow: { status: 'DEGRADED' },
      broken: {
        status: 'DOWN',
        details: { error: 'config of version 1 failed to start: cannot connect' },
      },
    });
    await host.stopAll();
    expect(await host.health()).toEqual({});
  });
});
