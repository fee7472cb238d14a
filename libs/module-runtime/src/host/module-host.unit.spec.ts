import { ModuleSpec, NodeDocument, StringMap } from '@plexus/domain';
import { leaseTimings, LEASES_BUCKET_OPTIONS, SINGLE_MODULE_STOP_TIMEOUT_MS } from '@plexus/bus';
import { ModuleHost } from './module-host';
import type { ModuleInstance } from '@plexus/module-sdk';
import { BuiltInModuleType, RuntimeModuleContext } from '../module-type';
import { ModuleTypeRegistry } from '../registry';

type ModuleContext = RuntimeModuleContext;

/** An in-memory module type that records what happens to it; `config.fail` makes it throw. */
function recordingType(type: string, journal: string[], opts: { inPlace?: boolean } = {}) {
  const definition: BuiltInModuleType = {
    name: type,
    version: '1.0.0',
    description: type,
    provides: ['DEP'],
    configSchema: { type: 'object', properties: { unset: { type: 'string', default: 'filled' } } },
    async start(ctx: ModuleContext): Promise<ModuleInstance> {
      const config = ctx.config;
      if (config.fail) throw new Error(`cannot start: ${config.fail}`);
      let current = config;
      journal.push(
        [`start ${ctx.moduleId}`, config.value, `v${ctx.configVersion()}`]
          .filter(Boolean)
          .join(' '),
      );
      const instance: ModuleInstance & { config: () => StringMap; ctx: ModuleContext } = {
        ctx,
        config: () => current,
        async stop() {
          journal.push(`stop ${ctx.moduleId}`);
        },
        async reconfigure(_ctx, { config: next, changedKeys }) {
          if (opts.inPlace === false) return 'restart';
          if (next.fail) throw new Error(`cannot apply: ${next.fail}`);
          journal.push(`reconfigure ${ctx.moduleId} ${next.value ?? ''}`.trim());
          changes.push([...changedKeys]);
          current = next;
          return next.restart ? 'restart' : 'applied';
        },
        health: () => ({ status: 'UP' }),
      };
      return instance;
    },
  };
  return definition;
}

/** Keys each in-place reconfigure was told had changed, in order. */
let changes: string[][] = [];
beforeEach(() => (changes = []));

/** An instance that does nothing. */
const bare = (): ModuleInstance => ({
  stop: async () => undefined,
  reconfigure: async () => 'applied',
  health: () => ({ status: 'UP' }),
});

const mod = (moduleId: string, over: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type: 'thing',
  config: {},
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...over,
});

const doc = (version: number, modules: ModuleSpec[], archived = false): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived,
  properties: {},
  modules,
});

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function host(
  journal: string[],
  opts: { inPlace?: boolean; holdsLease?: (moduleId: string) => boolean } = {},
) {
  const registry = new ModuleTypeRegistry([recordingType('thing', journal, opts)]);
  const applied: number[] = [];
  const h = new ModuleHost({
    registry,
    nodeId: 'n1',
    processId: 'p1',
    portOffset: 0,
    logger: quiet,
    onApplied: (r) => applied.push(r.version),
    holdsLease: opts.holdsLease,
  });
  return { h, applied };
}

describe('ModuleHost', () => {
  it('starts modules dependencies first and reports them running at the document version', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    const result = await h.apply(
      doc(3, [mod('web', { requires: { DEP: 'db' } }), mod('db', { config: { value: 'a' } })]),
    );
    expect(journal).toEqual(['start db a v3', 'start web v3']);
    expect(result?.ok).toBe(true);
    expect(h.appliedVersion).toBe(3);
    expect(h.statuses()).toEqual({
      web: { state: 'running', version: 3 },
      db: { state: 'running', version: 3 },
    });
    const web = h.instance('web') as unknown as { ctx: ModuleContext };
    expect(Object.keys(web.ctx.dependencies)).toEqual(['DEP']);
  });

  it('adds the details of each module’s health() to the detailed statuses only', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a'), mod('b'), mod('c')]));
    (h.instance('a') as ModuleInstance).health = () => ({ status: 'UP', details: { requests: 7 } });
    (h.instance('b') as ModuleInstance).health = () => {
      throw new Error('pool closed');
    };
    // a health() that answers with a promise shows up from the next heartbeat on
    (h.instance('c') as ModuleInstance).health = async () => ({
      status: 'DEGRADED',
      details: { lag: 3 },
    });
    expect(h.detailedStatuses()).toEqual({
      a: { state: 'running', version: 1, details: { requests: 7 } },
      b: { state: 'running', version: 1, details: { healthError: 'pool closed' } },
      c: { state: 'running', version: 1 },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.detailedStatuses().c).toEqual({ state: 'running', version: 1, details: { lag: 3 } });
    expect(h.statuses().a).toEqual({ state: 'running', version: 1 });
  });

  it('answers health() of every running module, a throwing or slow one DOWN with the error', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a'), mod('b'), mod('c'), mod('off', { enabled: false })]));
    (h.instance('a') as ModuleInstance).health = async () => ({ status: 'UP', details: { n: 1 } });
    (h.instance('b') as ModuleInstance).health = () => {
      throw new Error('pool closed');
    };
    (h.instance('c') as ModuleInstance).health = () => new Promise(() => undefined);
    const started = Date.now();
    expect(await h.health(50)).toEqual({
      a: { status: 'UP', details: { n: 1 } },
      b: { status: 'DOWN', details: { error: 'pool closed' } },
      c: {
        status: 'DOWN',
        details: { error: 'health() of module "c" did not finish within 50 ms' },
      },
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('hands modules their config with the schema defaults, and reconfigure the change', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a', { config: { value: 'x' } })]));
    const a = h.instance('a') as unknown as { ctx: ModuleContext };
    expect(a.ctx.config).toEqual({ value: 'x', unset: 'filled' });
    await h.apply(doc(2, [mod('a', { config: { value: 'y', other: '1' } })]));
    expect(changes).toEqual([['other', 'value']]);
    expect(a.ctx.config).toEqual({ value: 'y', other: '1', unset: 'filled' });
  });

  it('reconfigures in place and moves configVersion; untouched modules follow the version', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a', { config: { value: 'x' } }), mod('b')]));
    await h.apply(doc(2, [mod('a', { config: { value: 'y' } }), mod('b')]));
    expect(journal).toEqual(['start a x v1', 'start b v1', 'reconfigure a y']);
    const a = h.instance('a') as unknown as { ctx: ModuleContext };
    expect(a.ctx.configVersion()).toBe(2);
    expect(h.statuses().b).toEqual({ state: 'running', version: 2 });
  });

  it('stops and starts (with its dependents) when reconfigure answers restart', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(
      doc(1, [mod('db', { config: { value: 'x' } }), mod('web', { requires: { DEP: 'db' } })]),
    );
    journal.length = 0;
    await h.apply(
      doc(2, [
        mod('db', { config: { value: 'y', restart: '1' } }),
        mod('web', { requires: { DEP: 'db' } }),
      ]),
    );
    expect(journal).toEqual([
      'reconfigure db y',
      'stop web',
      'stop db',
      'start db y v2',
      'start web v1',
    ]);
    expect(h.statuses()).toEqual({
      db: { state: 'running', version: 2 },
      web: { state: 'running', version: 2 },
    });
  });

  it('keeps the old config when reconfigure throws; the others keep running', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a', { config: { value: 'x' } }), mod('b')]));
    const result = await h.apply(doc(2, [mod('a', { config: { fail: 'port taken' } }), mod('b')]));
    expect(result?.ok).toBe(false);
    expect(result?.modules.a).toEqual({
      state: 'failed',
      version: 1,
      error:
        'config of version 2 failed to apply: cannot apply: port taken; still running the config of version 1',
    });
    expect(result?.modules.b).toEqual({ state: 'running', version: 2 });
    expect((h.instance('a') as unknown as { config: () => StringMap }).config()).toEqual({
      value: 'x',
      unset: 'filled',
    });
    // the same failing config is not retried on the next document
    journal.length = 0;
    await h.apply(
      doc(3, [mod('a', { config: { fail: 'port taken' } }), mod('b', { config: { value: 'z' } })]),
    );
    expect(journal).toEqual(['reconfigure b z']);
    expect(h.statuses().a.state).toBe('failed');
    // a fixed config applies and clears the failure
    await h.apply(
      doc(4, [mod('a', { config: { value: 'ok' } }), mod('b', { config: { value: 'z' } })]),
    );
    expect(h.statuses().a).toEqual({ state: 'running', version: 4 });
  });

  it('rolls a restarted module back to its last good config when the new one fails', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    await h.apply(doc(1, [mod('a', { config: { value: 'x' } })]));
    journal.length = 0;
    const result = await h.apply(doc(2, [mod('a', { config: { fail: 'bad' }, generation: 1 })]));
    expect(journal).toEqual(['stop a', 'start a x v1']);
    expect(result?.modules.a).toEqual({
      state: 'failed',
      version: 1,
      error:
        'config of version 2 failed to start: cannot start: bad; rolled back to the config of version 1',
    });
  });

  it('does not start modules whose dependency failed, and says why', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    const result = await h.apply(
      doc(1, [
        mod('db', { config: { fail: 'no disk' } }),
        mod('web', { requires: { DEP: 'db' } }),
        mod('other'),
      ]),
    );
    expect(journal).toEqual(['start other v1']);
    expect(result?.modules.db.state).toBe('failed');
    expect(result?.modules.web).toEqual({
      state: 'failed',
      version: 1,
      error:
        'not started: requires DEP = "db", which is not running (config of version 1 failed to start: cannot start: no disk)',
    });
    expect(result?.modules.other.state).toBe('running');
    // fixing the dependency starts both
    await h.apply(doc(2, [mod('db'), mod('web', { requires: { DEP: 'db' } }), mod('other')]));
    expect(Object.values(h.statuses()).map((s) => s.state)).toEqual([
      'running',
      'running',
      'running',
    ]);
  });

  it('reports unknown types as unsupported and disabled modules as stopped', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    const result = await h.apply(
      doc(1, [mod('x', { type: 'ENDPOINT_FHIR_REST_R4' }), mod('y', { enabled: false })]),
    );
    expect(journal).toEqual([]);
    expect(result?.ok).toBe(true);
    expect(result?.modules).toEqual({
      x: {
        state: 'unsupported',
        version: 1,
        error: 'module type "ENDPOINT_FHIR_REST_R4" is not supported by this process',
      },
      y: { state: 'stopped', version: 1 },
    });
  });

  it('applies only the newest of the documents that arrive while applying', async () => {
    const journal: string[] = [];
    const { h, applied } = host(journal);
    h.submit(doc(1, [mod('a', { config: { value: '1' } })]));
    h.submit(doc(2, [mod('a', { config: { value: '2' } })]));
    h.submit(doc(3, [mod('a', { config: { value: '3' } })]));
    expect(h.submit(doc(3, [mod('a', { config: { value: 'dup' } })]))).toBe(false);
    await h.whenIdle();
    expect(applied).toEqual([1, 3]);
    expect(journal).toEqual(['start a 1 v1', 'reconfigure a 3']);
    expect(h.submit(doc(2, [mod('a')]))).toBe(false);
  });

  it('stops everything dependents first on stopAll and on an archived document', async () => {
    const journal: string[] = [];
    const { h } = host(journal);
    const modules = [mod('db'), mod('web', { requires: { DEP: 'db' } })];
    await h.apply(doc(1, modules));
    journal.length = 0;
    await h.apply(doc(2, modules, true));
    expect(journal).toEqual(['stop web', 'stop db']);
    await h.apply(doc(3, modules));
    journal.length = 0;
    await h.stopAll();
    expect(journal).toEqual(['stop web', 'stop db']);
    expect(h.submit(doc(4, modules))).toBe(false);
    expect(Object.values(h.statuses()).map((s) => s.state)).toEqual(['stopped', 'stopped']);
  });

  it('restarts modules without reconfigure on a config change', async () => {
    const journal: string[] = [];
    const { h } = host(journal, { inPlace: false });
    await h.apply(doc(1, [mod('a', { config: { value: 'x' } })]));
    await h.apply(doc(2, [mod('a', { config: { value: 'y' } })]));
    expect(journal).toEqual(['start a x v1', 'stop a', 'start a y v2']);
  });

  it('starts and stops a single module as its lease is won and lost, touching nothing else', async () => {
    // given a single module and an all module, and no lease held
    const journal: string[] = [];
    const leases = new Set<string>();
    const { h } = host(journal, { holdsLease: (id) => leases.has(id) });
    await h.apply(doc(1, [mod('solo', { activation: 'single' }), mod('other')]));
    expect(journal).toEqual(['start other v1']);
    expect(h.statuses().solo).toEqual({ state: 'standby', version: 1 });
    // when the lease is won, then the single module starts
    leases.add('solo');
    await h.reevaluate();
    expect(journal).toEqual(['start other v1', 'start solo v1']);
    expect(h.statuses().solo).toEqual({ state: 'running', version: 1 });
    // when the lease is lost, then it stops and stands by; the other module never restarts
    leases.delete('solo');
    await h.reevaluate();
    expect(journal).toEqual(['start other v1', 'start solo v1', 'stop solo']);
    expect(h.statuses()).toEqual({
      solo: { state: 'standby', version: 1 },
      other: { state: 'running', version: 1 },
    });
  });

  it('tries a single module again when its lease comes back after it failed to start here', async () => {
    // given a single module whose start fails while something else holds what it needs
    let blocked = true;
    const starts: string[] = [];
    const flaky: BuiltInModuleType = {
      ...recordingType('flaky', []),
      async start(ctx) {
        starts.push(blocked ? 'failed' : 'started');
        if (blocked) throw new Error(`${ctx.moduleId}: index held by another process`);
        return bare();
      },
    };
    const leases = new Set(['idx']);
    const h = new ModuleHost({
      registry: new ModuleTypeRegistry([flaky]),
      nodeId: 'n1',
      processId: 'p1',
      portOffset: 0,
      logger: quiet,
      holdsLease: (id) => leases.has(id),
    });
    const d = doc(1, [mod('idx', { type: 'flaky', activation: 'single' })]);
    await h.apply(d);
    expect(h.statuses().idx).toMatchObject({ state: 'failed' });
    // when the lease goes (the process handed it over) and comes back once the cause is gone
    leases.delete('idx');
    await h.reevaluate();
    expect(h.statuses().idx).toEqual({ state: 'standby', version: 1 });
    blocked = false;
    leases.add('idx');
    await h.reevaluate();
    // then the same config is started again, and runs
    expect(starts).toEqual(['failed', 'started']);
    expect(h.statuses().idx).toEqual({ state: 'running', version: 1 });
  });

  it('tells a running single module it may no longer serve the moment its lease is not held', async () => {
    // given a single module running on the lease holder, and an all module
    const journal: string[] = [];
    const leases = new Set(['solo']);
    const { h } = host(journal, { holdsLease: (id) => leases.has(id) });
    await h.apply(doc(1, [mod('solo', { activation: 'single' }), mod('other')]));
    const ctxOf = (id: string) => (h.instance(id) as unknown as { ctx: ModuleContext }).ctx;
    expect(ctxOf('solo').mayServe()).toBe(true);
    // when the lease lapses, before the host has stopped the module
    leases.clear();
    // then the module already knows, and an all module is unaffected
    expect(ctxOf('solo').mayServe()).toBe(false);
    expect(ctxOf('other').mayServe()).toBe(true);
  });

  it('gives a single module no more time to stop than its lease margin', async () => {
    // given modules whose stop never finishes, and a host with a long stop timeout
    const errors: string[] = [];
    const hung: BuiltInModuleType = {
      ...recordingType('hung', []),
      start: async () => ({ ...bare(), stop: () => new Promise<void>(() => undefined) }),
    };
    const leases = new Set(['solo']);
    const h = new ModuleHost({
      registry: new ModuleTypeRegistry([hung]),
      nodeId: 'n1',
      processId: 'p1',
      portOffset: 0,
      logger: { ...quiet, error: (_m, fields) => errors.push(String(fields?.error)) },
      holdsLease: (id) => leases.has(id),
      stopTimeoutMs: 60_000,
    });
    await h.apply(doc(1, [mod('solo', { type: 'hung', activation: 'single' })]));
    // when its lease is lost, then the host gives up waiting within what the lease margin allows
    leases.clear();
    await h.reevaluate();
    expect(errors).toEqual([
      `stop of module "solo" did not finish within ${SINGLE_MODULE_STOP_TIMEOUT_MS} ms`,
    ]);
    expect(leaseTimings(LEASES_BUCKET_OPTIONS.ttl).marginMs).toBeGreaterThanOrEqual(
      SINGLE_MODULE_STOP_TIMEOUT_MS,
    );
    expect(h.statuses().solo).toEqual({ state: 'standby', version: 1 });
  });

  it('hands a single module the revision of its lease as a fencing token, and nothing to an all module', async () => {
    const journal: string[] = [];
    const revisions = new Map([['solo', 41]]);
    const registry = new ModuleTypeRegistry([recordingType('thing', journal)]);
    const h = new ModuleHost({
      registry,
      nodeId: 'n1',
      processId: 'p1',
      portOffset: 0,
      logger: quiet,
      holdsLease: (id) => revisions.has(id),
      leaseRevision: (id) => revisions.get(id) ?? null,
    });
    await h.apply(doc(1, [mod('solo', { activation: 'single' }), mod('other')]));
    const ctxOf = (id: string) => (h.instance(id) as unknown as { ctx: ModuleContext }).ctx;
    expect(ctxOf('solo').lease()).toEqual({ revision: 41 });
    expect(ctxOf('other').lease()).toBeNull();
    // the token is read when asked: the lease may pass to this process again, with a new one
    revisions.set('solo', 57);
    expect(ctxOf('solo').lease()).toEqual({ revision: 57 });
    revisions.clear();
    expect(ctxOf('solo').lease()).toBeNull();
  });

  it('switches a running module between all and single without restarting it', async () => {
    const journal: string[] = [];
    const { h } = host(journal, { holdsLease: () => true });
    await h.apply(doc(1, [mod('m')]));
    await h.apply(doc(2, [mod('m', { activation: 'single' })]));
    await h.apply(doc(3, [mod('m')]));
    expect(journal).toEqual(['start m v1']);
    expect(h.statuses().m).toEqual({ state: 'running', version: 3 });
  });
});
