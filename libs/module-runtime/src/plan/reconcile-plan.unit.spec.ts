import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { leaseOwner } from './lease-owner';
import { planReconcile, ReconcileStep } from './reconcile-plan';

const registry = {
  get: (type: string) => (['http', 'security', 'db'].includes(type) ? {} : undefined),
};

const mod = (moduleId: string, over: Partial<ModuleSpec> = {}): ModuleSpec => ({
  moduleId,
  type: 'http',
  config: { port: '8000' },
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
  ...over,
});

const doc = (modules: ModuleSpec[], over: Partial<NodeDocument> = {}): NodeDocument => ({
  nodeId: 'n1',
  version: 7,
  archived: false,
  properties: {},
  modules,
  ...over,
});

const runs = (...modules: ModuleSpec[]) => new Map(modules.map((m) => [m.moduleId, m]));

/** Steps as short strings, e.g. "stop endpoint (removed)", "start security (new)". */
const brief = (steps: ReconcileStep[]) =>
  steps.map((s) =>
    s.action === 'stop'
      ? `stop ${s.moduleId} (${s.reason})`
      : s.action === 'start'
        ? `start ${s.moduleId} (${s.reason})`
        : `reconfigure ${s.moduleId} [${s.changedKeys.join(',')}]`,
  );

const security = mod('security', { type: 'security', config: { timeout: '30' } });
const endpoint = mod('endpoint', { requires: { SECURITY_IN_UP: 'security' } });

describe('planReconcile', () => {
  it('starts a new node dependencies first, whatever the document order', () => {
    // given nothing runs and the document lists the dependent first
    // when planned
    const plan = planReconcile(new Map(), doc([endpoint, security]), registry);
    // then the dependency starts first
    expect(brief(plan.steps)).toEqual(['start security (new)', 'start endpoint (new)']);
    expect(plan.version).toBe(7);
    expect(plan.idle).toEqual([]);
  });

  it('does nothing when what runs is what is desired', () => {
    const plan = planReconcile(runs(security, endpoint), doc([security, endpoint]), registry);
    expect(plan.steps).toEqual([]);
  });

  it('accepts what runs as a plain record too', () => {
    const plan = planReconcile({ security }, doc([security, endpoint]), registry);
    expect(brief(plan.steps)).toEqual(['start endpoint (new)']);
  });

  it('reconfigures in place when only config changed, naming the keys', () => {
    // given the endpoint runs port 8000
    // when the message is added and the port changed
    const changed = { ...endpoint, config: { port: '8001', message: 'hi' } };
    const plan = planReconcile(runs(security, endpoint), doc([security, changed]), registry);
    // then one reconfigure, nothing stopped
    expect(brief(plan.steps)).toEqual(['reconfigure endpoint [message,port]']);
    expect(plan.steps[0]).toMatchObject({ spec: changed });
  });

  it('stops a removed module', () => {
    const plan = planReconcile(runs(security, endpoint), doc([security]), registry);
    expect(brief(plan.steps)).toEqual(['stop endpoint (removed)']);
  });

  it('stops a disabled module and reports it stopped', () => {
    const plan = planReconcile(
      runs(security, endpoint),
      doc([security, { ...endpoint, enabled: false }]),
      registry,
    );
    expect(brief(plan.steps)).toEqual(['stop endpoint (disabled)']);
    expect(plan.idle).toEqual([
      { moduleId: 'endpoint', state: 'stopped', reason: 'the module is stopped' },
    ]);
  });

  it('starts a module that was enabled again', () => {
    const plan = planReconcile(runs(security), doc([security, endpoint]), registry);
    expect(brief(plan.steps)).toEqual(['start endpoint (new)']);
  });

  it.each([
    ['type', { type: 'db' }, 'type-changed'],
    ['requires', { requires: {} }, 'requires-changed'],
    ['generation (a restart)', { generation: 1 }, 'restart'],
  ])('restarts a module whose %s changed', (_what, change, reason) => {
    const plan = planReconcile(
      runs(security, endpoint),
      doc([security, { ...endpoint, ...change }]),
      registry,
    );
    expect(brief(plan.steps)).toEqual([`stop endpoint (${reason})`, 'start endpoint (restart)']);
  });

  it('restarts the dependents of a restarted module: stops dependents first, starts them last', () => {
    // given the endpoint requires security
    // when security is restarted (generation bumped) and the endpoint's message changes too
    const plan = planReconcile(
      runs(security, endpoint),
      doc([
        { ...endpoint, config: { port: '8000', message: 'x' } },
        { ...security, generation: 1 },
      ]),
      registry,
    );
    // then endpoint stops before security, and starts (with its new config) after it
    expect(brief(plan.steps)).toEqual([
      'stop endpoint (dependency-stopped)',
      'stop security (restart)',
      'start security (restart)',
      'start endpoint (dependency-restarted)',
    ]);
    expect(plan.steps[3]).toMatchObject({ spec: { config: { message: 'x' } } });
  });

  it('orders a chain: stops from the top, starts from the bottom', () => {
    const db = mod('db', { type: 'db', config: {} });
    const sec = { ...security, requires: { DB: 'db' } };
    const plan = planReconcile(
      runs(endpoint, sec, db),
      doc([endpoint, sec, { ...db, generation: 3 }]),
      registry,
    );
    expect(brief(plan.steps)).toEqual([
      'stop endpoint (dependency-stopped)',
      'stop security (dependency-stopped)',
      'stop db (restart)',
      'start db (restart)',
      'start security (dependency-restarted)',
      'start endpoint (dependency-restarted)',
    ]);
  });

  it('stops and does not start a module whose dependency is disabled, saying why', () => {
    const plan = planReconcile(
      runs(security, endpoint),
      doc([{ ...security, enabled: false }, endpoint]),
      registry,
    );
    expect(brief(plan.steps)).toEqual([
      'stop endpoint (dependency-stopped)',
      'stop security (disabled)',
    ]);
    expect(plan.idle).toContainEqual({
      moduleId: 'endpoint',
      state: 'failed',
      reason: 'not started: requires SECURITY_IN_UP = "security", which is stopped',
    });
  });

  it('stops everything, dependents first, when the node is archived', () => {
    const plan = planReconcile(
      runs(security, endpoint),
      doc([security, endpoint], { archived: true }),
      registry,
    );
    expect(brief(plan.steps)).toEqual(['stop endpoint (archived)', 'stop security (archived)']);
    expect(plan.idle.map((i) => i.state)).toEqual(['stopped', 'stopped']);
  });

  it('reports unknown module types as unsupported and starts nothing for them', () => {
    // given a Smile CDR file with a type this cluster does not know
    const fhir = mod('fhir', { type: 'ENDPOINT_FHIR_REST_R4' });
    const needsFhir = mod('web', { requires: { FHIR: 'fhir' } });
    const plan = planReconcile(new Map(), doc([fhir, needsFhir, security]), registry);
    // then only the known, unblocked module starts
    expect(brief(plan.steps)).toEqual(['start security (new)']);
    expect(plan.idle).toEqual([
      {
        moduleId: 'fhir',
        state: 'unsupported',
        reason: 'module type "ENDPOINT_FHIR_REST_R4" is not supported by this process',
      },
      {
        moduleId: 'web',
        state: 'failed',
        reason: 'not started: requires FHIR = "fhir", which is unsupported',
      },
    ]);
  });

  it('stops a running module whose type became unknown', () => {
    const plan = planReconcile(runs(security), doc([{ ...security, type: 'nope' }]), registry);
    expect(brief(plan.steps)).toEqual(['stop security (unsupported)']);
  });

  describe('with a config that failed on this process', () => {
    const bad = { ...endpoint, config: { port: '80' } };

    it('keeps running the last good config and does not retry the same failed one', () => {
      // given endpoint runs its old config after `bad` failed to apply
      // when the same document (or one changing something else) is planned again
      const plan = planReconcile(runs(security, endpoint), doc([security, bad]), registry, {
        failed: { endpoint: bad },
      });
      // then nothing happens to it
      expect(plan.steps).toEqual([]);
    });

    it('does not start a module whose failed config is still the desired one', () => {
      const plan = planReconcile(runs(security), doc([security, bad]), registry, {
        failed: new Map([['endpoint', bad]]),
      });
      expect(plan.steps).toEqual([]);
      expect(plan.idle).toEqual([
        {
          moduleId: 'endpoint',
          state: 'failed',
          reason: 'its config failed to start; waiting for a change or a restart',
        },
      ]);
    });

    it('tries again once the config changes or the module is restarted', () => {
      const fixed = { ...bad, config: { port: '8080' } };
      const retried = planReconcile(runs(security, endpoint), doc([security, fixed]), registry, {
        failed: { endpoint: bad },
      });
      expect(brief(retried.steps)).toEqual(['reconfigure endpoint [port]']);
      const restarted = planReconcile(
        runs(security),
        doc([security, { ...bad, generation: 1 }]),
        registry,
        { failed: { endpoint: bad } },
      );
      expect(brief(restarted.steps)).toEqual(['start endpoint (new)']);
    });

    it('restarts it with its last good config when a dependency restarts', () => {
      const plan = planReconcile(
        runs(security, endpoint),
        doc([{ ...security, generation: 1 }, bad]),
        registry,
        { failed: { endpoint: bad } },
      );
      expect(brief(plan.steps)).toEqual([
        'stop endpoint (dependency-stopped)',
        'stop security (restart)',
        'start security (restart)',
        'start endpoint (dependency-restarted)',
      ]);
      expect(plan.steps[3]).toMatchObject({ spec: endpoint });
    });
  });
});

describe('planReconcile with activation: single', () => {
  const single = { ...endpoint, activation: 'single' as const };
  const holds = (...ids: string[]) => ({ holdsLease: (id: string) => ids.includes(id) });

  it('starts a single module only on the process that holds its lease', () => {
    // given a single endpoint that does not run yet
    const desired = doc([security, single]);
    // when this process holds its lease, then it starts; when not, it stands by
    expect(
      brief(planReconcile(runs(security), desired, registry, holds('endpoint')).steps),
    ).toEqual(['start endpoint (new)']);
    const plan = planReconcile(runs(security), desired, registry, holds());
    expect(plan.steps).toEqual([]);
    expect(plan.idle).toEqual([
      {
        moduleId: 'endpoint',
        state: 'standby',
        reason: 'activation is single and another process is active',
      },
    ]);
  });

  it('stops a running single module whose lease is lost, and what requires it stands by too', () => {
    // given a single security module required by an endpoint, both running
    const singleSecurity = { ...security, activation: 'single' as const };
    // when the lease of security is not held any more
    const plan = planReconcile(
      runs(singleSecurity, endpoint),
      doc([singleSecurity, endpoint]),
      registry,
      holds(),
    );
    // then both stop, dependents first, and stand by rather than fail
    expect(brief(plan.steps)).toEqual(['stop endpoint (standby)', 'stop security (standby)']);
    expect(plan.idle.map((i) => `${i.moduleId} ${i.state}`)).toEqual([
      'security standby',
      'endpoint standby',
    ]);
  });

  it('keeps a module running without a restart when only its activation changes here', () => {
    // all -> single on the lease holder, and single -> all anywhere
    expect(
      planReconcile(runs(security, endpoint), doc([security, single]), registry, holds('endpoint'))
        .steps,
    ).toEqual([]);
    expect(
      planReconcile(runs(security, single), doc([security, endpoint]), registry).steps,
    ).toEqual([]);
  });

  it('stops a module going single on a process without its lease', () => {
    const plan = planReconcile(
      runs(security, endpoint),
      doc([security, single]),
      registry,
      holds(),
    );
    expect(brief(plan.steps)).toEqual(['stop endpoint (standby)']);
  });

  it('runs a single module that requires another single module wherever that one holds its lease', () => {
    // given jobs (single) requiring store (single): jobs follows store's lease
    const store = mod('store', { type: 'db', activation: 'single' });
    const jobs = mod('jobs', { activation: 'single', requires: { DB: 'store' } });
    const desired = doc([store, jobs]);
    expect(leaseOwner(desired, 'jobs')).toBe('store');
    expect(leaseOwner(desired, 'store')).toBe('store');
    // when this process holds store's lease, both start; with no lease, both stand by
    const plan = planReconcile(runs(), desired, registry, holds('store'));
    expect(brief(plan.steps)).toEqual(['start store (new)', 'start jobs (new)']);
    // and the plan names the lease each follows, for the host to hand to the modules
    expect(plan.leaseOwners).toEqual(
      new Map([
        ['store', 'store'],
        ['jobs', 'store'],
      ]),
    );
    expect(
      planReconcile(runs(), desired, registry, holds()).idle.map((i) => `${i.moduleId} ${i.state}`),
    ).toEqual(['store standby', 'jobs standby']);
  });

  it('breaks a cycle of single requirements instead of looping', () => {
    const a = mod('a', { activation: 'single', requires: { B: 'b' } });
    const b = mod('b', { activation: 'single', requires: { A: 'a' } });
    expect(leaseOwner(doc([a, b]), 'a')).toBe('b');
  });
});
