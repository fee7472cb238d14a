import { KV, NatsConnection } from 'nats';
import { ModuleLease, ModuleLeases } from './module-leases';
import { moduleLeaseKey } from './names';
import { connectNats, DEFAULT_NATS_URL } from './nats-connection';
import { sleep } from '@plexus/common';

jest.setTimeout(30_000);
const LEASE_MS = 3000;
/** A bucket of this file's own (same options as plexus-leases), removed afterwards. */
const BUCKET = `plexus-leases-test-${Math.random().toString(36).slice(2, 10)}`;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function until(check: () => boolean, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A stand-in for a module: records when it starts and stops, and checks nobody else runs. */
class Contender {
  running = false;
  startedAt = 0;
  stoppedAt = 0;
  lostReason = '';
  readonly leases: ModuleLeases;
  constructor(
    readonly processId: string,
    nodeId: string,
    openBucket: () => Promise<KV>,
    cluster: Contender[],
  ) {
    cluster.push(this);
    this.leases = new ModuleLeases({
      nodeId,
      processId,
      openBucket,
      logger: quiet,
      onAcquired: () => {
        if (cluster.some((c) => c.running)) throw new Error('two contenders run at once');
        this.running = true;
        this.startedAt = performance.now();
      },
      onLost: async (_moduleId, reason) => {
        this.lostReason = reason;
        await sleep(50); // a module takes a moment to stop
        this.running = false;
        this.stoppedAt = performance.now();
      },
    });
  }
}

describe('ModuleLeases against the real NATS', () => {
  let nc: NatsConnection;
  let kv: KV;
  const open = async () =>
    nc.jetstream({ timeout: 500 }).views.kv(BUCKET, { history: 1, ttl: LEASE_MS });
  const contenders: Contender[] = [];
  let overlap = false;
  let watcher: NodeJS.Timeout;

  beforeAll(async () => {
    nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, 'module-leases-int');
    kv = await open();
    // Throughout: never two running at once.
    watcher = setInterval(() => {
      const byNode = new Map<string, number>();
      for (const c of contenders)
        if (c.running)
          byNode.set(c.processId.split(':')[0], (byNode.get(c.processId.split(':')[0]) ?? 0) + 1);
      if ([...byNode.values()].some((n) => n > 1)) overlap = true;
    }, 5);
  });

  afterAll(async () => {
    clearInterval(watcher);
    await Promise.all(contenders.map((c) => c.leases.close()));
    await (await nc.jetstreamManager()).streams.delete(`KV_${BUCKET}`).catch(() => undefined);
    await nc.close();
  });

  afterEach(() => expect(overlap).toBe(false));

  it('gives the lease to exactly one of two contenders, and to the other when it is released', async () => {
    const node = 'n1';
    const cluster: Contender[] = [];
    const a = new Contender(`${node}:a`, node, open, cluster);
    const b = new Contender(`${node}:b`, node, open, cluster);
    contenders.push(a, b);
    await a.leases.contend(['m']);
    await b.leases.contend(['m']);
    expect([a.leases.holds('m'), b.leases.holds('m')]).toEqual([true, false]);
    const stored = JSON.parse((await kv.get(moduleLeaseKey(node, 'm')))!.string()) as ModuleLease;
    expect(stored).toMatchObject({ processId: `${node}:a`, nodeId: node, moduleId: 'm' });
    // Renewals keep it with A across several lease times (a fixed wait: that nothing changes
    // through it is what is tested).
    await sleep(LEASE_MS * 1.5);
    expect([a.leases.holds('m'), b.leases.holds('m')]).toEqual([true, false]);
    // A stops its module and releases: B takes over without waiting for the lease to lapse.
    a.running = false;
    await a.leases.close();
    // the key is deleted (or already B's), not left to lapse
    const after = await kv.get(moduleLeaseKey(node, 'm'));
    expect(
      after?.operation === 'DEL' ||
        (JSON.parse(after!.string()) as ModuleLease).processId === `${node}:b`,
    ).toBe(true);
    await until(() => b.leases.holds('m'), 'B to take over');
  });

  it('a holder that yields (its module failed to start) hands over at once and stays out for the backoff', async () => {
    const node = 'n-yield';
    const cluster: Contender[] = [];
    const a = new Contender(`${node}:a`, node, open, cluster);
    const b = new Contender(`${node}:b`, node, open, cluster);
    contenders.push(a, b);
    await a.leases.contend(['m']);
    await b.leases.contend(['m']);
    expect([a.leases.holds('m'), b.leases.holds('m')]).toEqual([true, false]);
    // when A yields with a 2 s backoff
    const yieldedAt = performance.now();
    await a.leases.yieldLease('m', 'it failed to start here', 2000);
    expect(a.running).toBe(false);
    expect(a.lostReason).toBe('it failed to start here');
    // then B takes over within a poll or so, long before the lease could have lapsed
    await until(() => b.leases.holds('m'), 'B to take over');
    expect(b.startedAt - yieldedAt).toBeLessThan(LEASE_MS);
    // and when B releases it within A's backoff, A only contends again once the backoff is over
    b.running = false;
    await b.leases.close();
    await until(() => a.leases.holds('m'), 'A to take it back', 10_000);
    expect(a.startedAt - yieldedAt).toBeGreaterThanOrEqual(2000);
  });

  it('lets a standby take a lease whose holder died only after the lease expired', async () => {
    const node = 'n2';
    const key = moduleLeaseKey(node, 'm');
    // given a holder that wrote the lease and then died (never renews)
    const sentAt = performance.now();
    await kv.create(key, JSON.stringify({ processId: 'dead', nodeId: node, moduleId: 'm' }));
    const b = new Contender(`${node}:b`, node, open, []);
    contenders.push(b);
    await b.leases.contend(['m']);
    expect(b.leases.holds('m')).toBe(false);
    // then B gets it, but not before the server let the dead holder's lease expire
    await until(() => b.leases.holds('m'), 'B to take the expired lease');
    expect(b.startedAt).toBeGreaterThanOrEqual(sentAt + LEASE_MS);
  });

  it('stops a holder whose renewals fail before its lease could lapse, and only then lets another start', async () => {
    const node = 'n3';
    // given A, whose renewals start failing (NATS unreachable from A only)
    let failing = false;
    let lastRenewSentAt = 0;
    const openFlaky = async () => {
      const real = await open();
      return new Proxy(real, {
        get(target, prop) {
          const value = Reflect.get(target, prop) as unknown;
          if (typeof value !== 'function') return value;
          if (prop === 'update')
            return async (k: string, v: string, revision: number) => {
              const sent = performance.now();
              if (failing) throw await sleep(500).then(() => new Error('TIMEOUT'));
              const next = await target.update(k, v, revision);
              lastRenewSentAt = sent;
              return next;
            };
          return async (...args: unknown[]) => {
            if (failing) throw await sleep(500).then(() => new Error('TIMEOUT'));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    };
    const cluster: Contender[] = [];
    const a = new Contender(`${node}:a`, node, openFlaky, cluster);
    const b = new Contender(`${node}:b`, node, open, cluster);
    contenders.push(a, b);
    await a.leases.contend(['m']);
    await b.leases.contend(['m']);
    await until(() => lastRenewSentAt > 0, 'a renewal by A');
    failing = true;
    // when A cannot renew, it stops its module while its last renewal still protects the lease
    await until(() => a.stoppedAt > 0, 'A to stop');
    expect(a.lostReason).toBe('the lease could not be renewed before its deadline');
    expect(a.stoppedAt).toBeLessThan(lastRenewSentAt + LEASE_MS);
    expect(a.leases.holds('m')).toBe(false);
    // and B starts only after that, once the server expired A's lease
    await until(() => b.leases.holds('m'), 'B to take over');
    expect(b.startedAt).toBeGreaterThan(a.stoppedAt);
    expect(b.startedAt).toBeGreaterThanOrEqual(lastRenewSentAt + LEASE_MS);
  });

  it('stops a holder at once when its lease was overwritten (revision conflict), leaving the key alone', async () => {
    const node = 'n4';
    const key = moduleLeaseKey(node, 'm');
    const a = new Contender(`${node}:a`, node, open, []);
    contenders.push(a);
    await a.leases.contend(['m']);
    expect(a.leases.holds('m')).toBe(true);
    // when something else rewrites the key (the revision A renews against is gone)
    await kv.put(key, JSON.stringify({ processId: 'intruder', nodeId: node, moduleId: 'm' }));
    // then A's next renewal is refused and A stops
    await until(() => a.stoppedAt > 0, 'A to stop');
    expect(a.lostReason).toBe('the lease expired or was taken (revision conflict)');
    expect(a.leases.holds('m')).toBe(false);
    // and A's revision-checked release did not delete the other holder's key
    const stored = JSON.parse((await kv.get(key))!.string()) as ModuleLease;
    expect(stored.processId).toBe('intruder');
  });
});
