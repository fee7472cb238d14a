import { KV, NatsConnection } from 'nats';
import {
  connectNats,
  DEFAULT_NATS_URL,
  ModuleLease,
  ModuleLeases,
  moduleLeaseKey,
} from '@plexus/bus';
import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { ModuleHost } from './host/module-host';
import { BuiltInModuleType, RuntimeModuleContext } from './module-type';
import { ModuleTypeRegistry } from './registry';
import { sleep } from '@plexus/common';
import { waitFor } from '../../../test/support/ports';

/**
 * The lease of a `single` module reaches the module as a fencing token, against the real NATS:
 * two processes (a host and its leases each, one NATS connection each) contend for one module.
 */
jest.setTimeout(30_000);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
/** A bucket of this file's own, with the options of plexus-leases. */
const BUCKET = `plexus-leases-fencing-${Math.random().toString(36).slice(2, 10)}`;
const NODE = 'fence-node';

/** A store that keeps the highest token it has seen and refuses writes stamped lower. */
class FencedStore {
  highest = 0;
  readonly writes: string[] = [];
  write(token: number | undefined, what: string): boolean {
    if (!token || token < this.highest) return false;
    this.highest = token;
    this.writes.push(what);
    return true;
  }
}

async function until<T>(what: string, probe: () => T | null | undefined | false, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('the lease of a single module as its fencing token (real NATS)', () => {
  const store = new FencedStore();
  const contexts = new Map<string, RuntimeModuleContext>();
  const probe: BuiltInModuleType = {
    name: 'probe',
    version: '1.0.0',
    description: 'records its context',
    configSchema: { type: 'object', properties: {} },
    start: async (ctx) => {
      contexts.set(ctx.processId, ctx);
      store.write(ctx.lease()?.revision, `${ctx.processId} started`);
      return {
        stop: async () => void contexts.delete(ctx.processId),
        reconfigure: async () => 'applied',
        health: () => ({ status: 'UP' }),
      };
    },
  };
  const spec: ModuleSpec = {
    moduleId: 'solo',
    type: 'probe',
    config: {},
    requires: {},
    enabled: true,
    activation: 'single',
    generation: 0,
  };
  const doc: NodeDocument = {
    nodeId: NODE,
    version: 1,
    archived: false,
    properties: {},
    modules: [spec],
  };
  const processes: { id: string; nc: NatsConnection; host: ModuleHost; leases: ModuleLeases }[] =
    [];
  let kv: KV;

  async function startProcess(id: string) {
    const nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, `fencing-${id}`);
    const open = () => nc.jetstream({ timeout: 500 }).views.kv(BUCKET, { history: 1, ttl: 3000 });
    kv ??= await open();
    let host: ModuleHost | null = null;
    const leases = new ModuleLeases({
      nodeId: NODE,
      processId: id,
      openBucket: open,
      logger: quiet,
      onAcquired: () => void host?.reevaluate(),
      onLost: async () => host?.reevaluate(),
    });
    host = new ModuleHost({
      registry: new ModuleTypeRegistry([probe]),
      nodeId: NODE,
      processId: id,
      portOffset: 0,
      logger: quiet,
      holdsLease: (m) => leases.holds(m),
      leaseRevision: (m) => leases.revision(m),
    });
    processes.push({ id, nc, host, leases });
    await leases.contend(['solo']);
    await host.apply(doc);
    return processes[processes.length - 1];
  }

  afterAll(async () => {
    for (const p of processes) {
      await p.host.stopAll();
      await p.leases.close();
    }
    const jsm = await processes[0]?.nc.jetstreamManager();
    await jsm?.streams.delete(`KV_${BUCKET}`).catch(() => undefined);
    for (const p of processes) await p.nc.close();
  });

  it('hands the active module the revision that won the lease, higher for every later holder', async () => {
    const [a, b] = [await startProcess('p-a'), await startProcess('p-b')];
    const active = await until('one process runs the module', () =>
      [a, b].find((p) => contexts.has(p.id)),
    );
    const standby = active === a ? b : a;
    const first = contexts.get(active.id)!.lease();
    expect(first).toEqual({ revision: expect.any(Number) });
    // the token is the revision of the key the active process wrote, never the standby's
    const held = await kv.get(moduleLeaseKey(NODE, 'solo'));
    expect((JSON.parse(held!.string()) as ModuleLease).processId).toBe(active.id);
    expect(held!.revision).toBeGreaterThanOrEqual(first!.revision);
    expect(standby.leases.revision('solo')).toBeNull();
    // the token stays the same while the lease is renewed
    await waitFor('the lease renewed', async () => {
      const renewed = await kv.get(moduleLeaseKey(NODE, 'solo'));
      return renewed!.revision > first!.revision;
    });
    expect((await kv.get(moduleLeaseKey(NODE, 'solo')))!.revision).toBeGreaterThan(first!.revision);
    expect(contexts.get(active.id)!.lease()).toEqual(first);

    // when the active process stops and releases the lease, the other one takes over
    const oldContext = contexts.get(active.id)!;
    const lastRenewal = (await kv.get(moduleLeaseKey(NODE, 'solo')))!.revision;
    await active.host.stopAll();
    await active.leases.close();
    await until('the other process runs the module', () => contexts.has(standby.id));
    const second = contexts.get(standby.id)!.lease();
    expect(second!.revision).toBeGreaterThan(lastRenewal);
    expect(oldContext.lease()).toBeNull();

    // so a store that fences on the token refuses a late write of the former holder
    expect(store.writes).toEqual([`${active.id} started`, `${standby.id} started`]);
    expect(store.write(first!.revision, `${active.id} late write`)).toBe(false);
    expect(store.write(second!.revision, `${standby.id} write`)).toBe(true);
  });
});
