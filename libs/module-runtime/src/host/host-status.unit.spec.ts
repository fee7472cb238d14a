import { ModuleSpec, NodeDocument } from '@plexus/domain';
import { ReconcilePlan } from '../plan/reconcile-plan';
import { HostStatus } from './host-status';
import { RunningModule } from './running-modules';

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

const doc = (version: number, modules: ModuleSpec[]): NodeDocument => ({
  nodeId: 'n1',
  version,
  archived: false,
  properties: {},
  modules,
});

const plan = (idle: ReconcilePlan['idle'] = []): ReconcilePlan => ({
  version: 0,
  steps: [],
  idle,
  leaseOwners: new Map(),
});

/** Running modules as settle sees them: spec and config version per module. */
function running(...slots: [ModuleSpec, number][]) {
  const byId = new Map<string, RunningModule>(
    slots.map(([spec, version]) => [
      spec.moduleId,
      // settle reads only the spec and the version
      { spec, ref: { version } } as RunningModule,
    ]),
  );
  return {
    get: (id: string) => byId.get(id),
    update: (id: string, spec: ModuleSpec, version: number) => {
      byId.get(id)!.spec = spec;
      byId.get(id)!.ref.version = version;
    },
  };
}

describe('HostStatus.settle', () => {
  it('reports running modules at the document version, blocked and idle ones with their reason', () => {
    // given a module running v1 unchanged, one blocked during the apply, one unsupported
    const status = new HostStatus();
    const a = mod('a');
    const d = doc(2, [a, mod('b'), mod('c', { type: 'alien' }), mod('d', { enabled: false })]);
    // when settled
    const modules = status.settle(
      d,
      plan([
        { moduleId: 'c', state: 'unsupported', reason: 'not supported' },
        { moduleId: 'd', state: 'stopped', reason: 'the module is stopped' },
      ]),
      new Map([['b', 'not started: requires X']]),
      running([a, 1]),
    );
    // then
    expect(modules).toEqual({
      a: { state: 'running', version: 2 },
      b: { state: 'failed', version: 2, error: 'not started: requires X' },
      c: { state: 'unsupported', version: 2, error: 'not supported' },
      d: { state: 'stopped', version: 2 },
    });
    expect(status.appliedVersion).toBe(2);
    expect(status.applied).toBe(d);
  });

  it('moves a module whose activation alone changed to the new spec without a restart', () => {
    const status = new HostStatus();
    const r = running([mod('m'), 1]);
    const single = mod('m', { activation: 'single' });
    status.settle(doc(2, [single]), plan(), new Map(), r);
    expect(r.get('m')!.spec).toBe(single);
    expect(status.statuses().m).toEqual({ state: 'running', version: 2 });
  });

  it('keeps a failure while the failed spec is desired, and forgets it once it changes', () => {
    // given a module that keeps running v1 because the config of v2 failed
    const status = new HostStatus();
    const good = mod('a', { config: { v: '1' } });
    const bad = mod('a', { config: { v: '2' } });
    status.fail('a', bad, 'config of version 2 failed to apply');
    const r = running([good, 1]);
    // when the same failing config is still desired, then it stays failed at its running version
    status.settle(doc(3, [bad]), plan(), new Map(), r);
    expect(status.statuses().a).toEqual({
      state: 'failed',
      version: 1,
      error: 'config of version 2 failed to apply',
    });
    expect(status.failedSpecs()).toEqual(new Map([['a', bad]]));
    // when the desired config changes back, then the failure is forgotten
    status.settle(doc(4, [good]), plan(), new Map(), r);
    expect(status.statuses().a).toEqual({ state: 'running', version: 4 });
    expect(status.failedSpecs().size).toBe(0);
  });

  it('forgets the failure of a module that stands by: the next active turn tries again', () => {
    const status = new HostStatus();
    const solo = mod('solo', { activation: 'single' });
    status.fail('solo', solo, 'index held by another process');
    status.settle(
      doc(1, [solo]),
      plan([{ moduleId: 'solo', state: 'standby', reason: 'another process is active' }]),
      new Map(),
      running(),
    );
    expect(status.statuses().solo).toEqual({ state: 'standby', version: 1 });
    expect(status.failure('solo')).toBeUndefined();
  });
});
