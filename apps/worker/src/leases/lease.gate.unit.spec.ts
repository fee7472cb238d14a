import type { ModuleStatus } from '@plexus/domain';
import type { ModuleSpec, NodeDocument } from '@plexus/domain';
import { ApplyResult, builtInModuleTypes } from '@plexus/module-runtime';
import { LeaseGate, RETRY_LEASE_AFTER_FAILURE_MS } from './lease.gate';

const endpoint = (moduleId: string, activation: 'all' | 'single'): ModuleSpec => ({
  moduleId,
  type: 'http-endpoint',
  config: {},
  requires: {},
  enabled: true,
  activation,
  generation: 0,
});

const doc = (version: number, modules: ModuleSpec[]): NodeDocument => ({
  nodeId: 'n',
  version,
  archived: false,
  properties: {},
  modules,
});

const applied = (version: number, modules: Record<string, ModuleStatus> = {}): ApplyResult => ({
  nodeId: 'n',
  version,
  ok: true,
  hrtime: 0n,
  durationMs: 0,
  steps: [],
  modules,
});

/** Leases this process wins as soon as it contends. */
function fakeLeases() {
  const contended = new Set<string>();
  return {
    holding: [] as string[],
    contended: () => [...contended],
    contend: jest.fn(async (ids: Iterable<string>) => {
      for (const id of ids) contended.add(id);
    }),
    retain: jest.fn(async (keep: ReadonlySet<string>) => {
      for (const id of [...contended]) if (!keep.has(id)) contended.delete(id);
    }),
    held() {
      return this.holding;
    },
    yieldLease: jest.fn(async () => undefined),
  };
}

function setUp() {
  const leases = fakeLeases();
  const submitted: number[] = [];
  const warnings: [string, Record<string, unknown> | undefined][] = [];
  const gate = new LeaseGate({
    registry: builtInModuleTypes(),
    host: { submit: (d) => (submitted.push(d.version), true) },
    leases,
    logger: {
      log: () => undefined,
      warn: (message, fields) => warnings.push([message, fields]),
      error: () => undefined,
    },
  });
  return { gate, leases, submitted, warnings };
}

describe('LeaseGate', () => {
  it('hands a document without single modules to the host at once (no await on the apply path)', () => {
    const { gate, leases, submitted } = setUp();
    gate.offer(doc(1, [endpoint('web', 'all')]));
    expect(submitted).toEqual([1]);
    expect(leases.contend).not.toHaveBeenCalled();
  });

  it('contends for a single module first, then hands the document over; later ones keep their order', async () => {
    const { gate, leases, submitted } = setUp();
    gate.offer(doc(1, [endpoint('solo', 'single')]));
    gate.offer(doc(2, [endpoint('web', 'all')]));
    expect(submitted).toEqual([]); // both wait: the second must not overtake the first
    await gate.handedOver();
    expect(leases.contend).toHaveBeenCalledWith(['solo']);
    expect(submitted).toEqual([1, 2]);
    // once contended, a document with the same single module goes straight through
    gate.offer(doc(3, [endpoint('solo', 'single')]));
    expect(submitted).toEqual([1, 2, 3]);
  });

  it('hands the document over even when contending fails, with a warning', async () => {
    const { gate, leases, submitted, warnings } = setUp();
    leases.contend.mockRejectedValueOnce(new Error('no bucket'));
    gate.offer(doc(1, [endpoint('solo', 'single')]));
    await gate.handedOver();
    expect(submitted).toEqual([1]);
    expect(warnings).toEqual([['contending for module leases failed', { error: 'no bucket' }]]);
  });

  it('stops contending for modules no document in play runs as single', async () => {
    const { gate, leases } = setUp();
    gate.offer(doc(1, [endpoint('a', 'single'), endpoint('b', 'single')]));
    await gate.handedOver();
    gate.offer(doc(2, [endpoint('a', 'single'), endpoint('b', 'all')]));
    // version 1 applied: it is still in play, so b is kept
    gate.onApplied(applied(1));
    expect(leases.retain).not.toHaveBeenCalled();
    // version 2 applied: only a runs as single now
    gate.onApplied(applied(2));
    expect(leases.retain).toHaveBeenCalledWith(new Set(['a']));
  });

  it('yields the lease of a held module that failed to start here', () => {
    const { gate, leases } = setUp();
    leases.holding = ['solo', 'other'];
    gate.onApplied(
      applied(1, {
        solo: { state: 'failed', version: 1, error: 'EADDRINUSE' },
        other: { state: 'running', version: 1 },
      }),
    );
    expect(leases.yieldLease).toHaveBeenCalledTimes(1);
    expect(leases.yieldLease).toHaveBeenCalledWith(
      'solo',
      'it failed to start here: EADDRINUSE',
      RETRY_LEASE_AFTER_FAILURE_MS,
    );
  });
});
