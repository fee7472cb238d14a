import { randomBytes } from 'node:crypto';
import { KV, NatsConnection } from 'nats';
import {
  connectNats,
  DEFAULT_NATS_URL,
  ModuleTypePublisher,
  ModuleTypeRegistration,
  ModuleTypeRegistrations,
  moduleTypeSchemaHash,
  openModuleTypesBucket,
  removeProcessModuleTypes,
} from '@plexus/bus';
import { sleep } from '@plexus/common';
import { builtInModuleTypes, ClusterModuleTypes } from '@plexus/module-runtime';

jest.setTimeout(30_000);

/** Node IDs of this run only: other tests may share the bucket. */
const run = randomBytes(3).toString('hex');
const nodeA = `cat-a-${run}`;
const nodeB = `cat-b-${run}`;

const schema = (maximum: number) => ({
  type: 'object',
  properties: { port: { type: 'integer', minimum: 1, maximum } },
  required: ['port'],
});

const registration = (
  nodeId: string,
  processId: string,
  s: Record<string, unknown>,
): ModuleTypeRegistration => ({
  nodeId,
  processId,
  type: `greeter-${run}`,
  version: '1.0.0',
  schemaHash: moduleTypeSchemaHash(s),
  configSchema: s,
  secretKeys: [],
  provides: [],
  requires: [],
  singleProcess: false,
  description: 'says hello',
});

async function until<T>(read: () => T, ok: (v: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(20);
  }
}

describe('the module type catalogue (real NATS)', () => {
  let nc: NatsConnection;
  let kv: KV;
  let watched: ModuleTypeRegistrations;
  let catalog: ClusterModuleTypes;
  const publishers: ModuleTypePublisher[] = [];
  const type = `greeter-${run}`;
  const entry = () => catalog.describe().find((t) => t.type === type);
  const providers = () => entry()?.providers.map((p) => p.processId) ?? [];

  beforeAll(async () => {
    nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, 'catalogue-test');
    kv = await openModuleTypesBucket(nc);
    watched = new ModuleTypeRegistrations(nc);
    await watched.ready;
    catalog = new ClusterModuleTypes(builtInModuleTypes(), () =>
      watched
        .list()
        .map((e) => e.registration)
        .filter((r) => r.nodeId === nodeA || r.nodeId === nodeB),
    );
  });

  afterAll(async () => {
    for (const p of publishers) await p.withdraw().catch(() => undefined);
    await watched?.stop();
    await nc?.close();
  });

  const publish = async (r: ModuleTypeRegistration, checkEveryMs?: number) => {
    const p = new ModuleTypePublisher(kv, [r], { checkEveryMs });
    publishers.push(p);
    await p.publish();
    return p;
  };

  it('shows what a process publishes, and checks configs against its schema', async () => {
    expect(catalog.get(type)).toBeUndefined();
    await publish(registration(nodeA, 'p-a', schema(9000)));
    await until(providers, (p) => p.length === 1, 'the first provider');
    expect(entry()).toMatchObject({
      builtIn: false,
      configSchema: schema(9000),
      providers: [
        {
          processId: 'p-a',
          nodeId: nodeA,
          version: '1.0.0',
          schemaHash: moduleTypeSchemaHash(schema(9000)),
        },
      ],
      conflicts: [],
    });
    expect(catalog.get(type)!.validateConfig({ port: '9001' })).toEqual([
      'config.port must be <= 9000',
    ]);
    // the key carries the node, so a node's NATS user can be kept to its own keys
    const keys: string[] = [];
    for await (const k of await kv.keys(`${nodeA}.>`)) keys.push(k);
    expect(keys).toEqual([`${nodeA}.p-a.${type}`]);
  });

  it('a watch started later reads what is there', async () => {
    const later = new ModuleTypeRegistrations(nc);
    try {
      await later.ready;
      expect(
        later
          .list()
          .map((e) => e.registration)
          .filter((r) => r.nodeId === nodeA)
          .map((r) => r.processId),
      ).toEqual(['p-a']);
    } finally {
      await later.stop();
    }
  });

  it('flags two providers of one version whose schemas differ', async () => {
    await publish(registration(nodeB, 'p-b', schema(8000)), 1500);
    const e = await until(entry, (t) => (t?.providers.length ?? 0) === 2, 'the second provider');
    expect(e!.conflicts).toEqual([
      {
        version: '1.0.0',
        schemaHashes: [
          moduleTypeSchemaHash(schema(9000)),
          moduleTypeSchemaHash(schema(8000)),
        ].sort(),
      },
    ]);
    // a config must suit every provider, since any of them may apply it
    expect(catalog.get(type)!.validateConfig({ port: '8500' })).toEqual([
      'config.port must be <= 8000',
    ]);
  });

  it('removes a process that leaves, and one judged lost (which puts its own back if alive)', async () => {
    await publishers[0].withdraw();
    await until(providers, (p) => p.join() === 'p-b', 'p-a to leave');
    expect(entry()!.conflicts).toEqual([]);

    // the failure detector removes a lost process's entries ...
    expect(await removeProcessModuleTypes(kv, nodeB, 'p-b')).toBe(1);
    await until(providers, (p) => p.length === 0, 'p-b to be removed');
    expect(catalog.get(type)).toBeUndefined();
    // ... and a process that was only cut off puts them back at its next check
    await until(providers, (p) => p.join() === 'p-b', 'p-b to put its entry back');
    await publishers[1].withdraw();
    await until(providers, (p) => p.length === 0, 'p-b to leave');
  });
});
