import { ModuleSpec, NodeDocument, StringMap } from '@plexus/domain';
import type { ModuleType } from '@plexus/module-sdk';
import { ModuleTypeRegistry } from '../registry';
import { planReconcile } from '../plan/reconcile-plan';
import { HostStatus } from './host-status';
import { PlanExecutor } from './plan-executor';
import { RunningModules } from './running-modules';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** A module type that records starts and stops; `config.fail`, or `broken`, makes start throw. */
function setup() {
  const journal: string[] = [];
  const state = { broken: false };
  const thing: ModuleType = {
    name: 'thing',
    version: '1.0.0',
    description: 'thing',
    provides: ['DEP'],
    configSchema: { type: 'object', properties: {} },
    async start(ctx) {
      const config: StringMap = ctx.config;
      if (config.fail) throw new Error(`cannot start: ${config.fail}`);
      if (state.broken) throw new Error('cannot start: broken');
      journal.push(`start ${ctx.moduleId} v${ctx.configVersion()}`);
      return {
        stop: async () => void journal.push(`stop ${ctx.moduleId}`),
        reconfigure: async () => 'restart',
        health: () => ({ status: 'UP' }),
      };
    },
  };
  const registry = new ModuleTypeRegistry([thing]);
  const running = new RunningModules({
    registry,
    nodeId: 'n1',
    processId: 'p1',
    portOffset: 0,
    logger: quiet,
    configOf: (spec) => ({ ...spec.config }),
    startTimeoutMs: 1000,
    stopTimeoutMs: 1000,
    singleStopTimeoutMs: 1000,
  });
  const status = new HostStatus();
  const executor = new PlanExecutor(running, status, quiet);
  const apply = async (d: NodeDocument) => {
    const plan = planReconcile(running.specs(), d, registry, { failed: status.failedSpecs() });
    const blocked = await executor.execute(plan, d);
    return status.settle(d, plan, blocked, running);
  };
  return { journal, state, running, apply };
}

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

describe('PlanExecutor', () => {
  it('says so when the rollback to the last good config fails too, and blocks what requires it', async () => {
    // given db and web running the config of version 1
    const { journal, state, running, apply } = setup();
    await apply(doc(1, [mod('db'), mod('web', { requires: { DEP: 'db' } })]));
    journal.length = 0;
    // when db restarts with a config that fails, and its old one no longer starts either
    state.broken = true;
    const modules = await apply(
      doc(2, [
        mod('db', { generation: 1, config: { fail: 'bad' } }),
        mod('web', { requires: { DEP: 'db' } }),
      ]),
    );
    // then both are down, db saying why, web saying it waits for db
    expect(journal).toEqual(['stop web', 'stop db']);
    expect(running.specs().size).toBe(0);
    expect(modules.db).toEqual({
      state: 'failed',
      version: 2,
      error:
        'config of version 2 failed to start: cannot start: bad; rollback to version 1 failed too: cannot start: broken',
    });
    expect(modules.web).toEqual({
      state: 'failed',
      version: 2,
      error: expect.stringMatching(
        /^not started: requires DEP = "db", which is not running \(config of version 2 failed/,
      ),
    });
  });

  it('starts a dependent restarted along with its dependency at the version it ran', async () => {
    // given web (v1) requires db, and db restarts at version 2
    const { journal, apply } = setup();
    await apply(doc(1, [mod('db'), mod('web', { requires: { DEP: 'db' } })]));
    journal.length = 0;
    const modules = await apply(
      doc(2, [mod('db', { generation: 1 }), mod('web', { requires: { DEP: 'db' } })]),
    );
    // then web stops first and starts last, and runs the document's spec at version 2 after all
    expect(journal).toEqual(['stop web', 'stop db', 'start db v2', 'start web v2']);
    expect(modules.web).toEqual({ state: 'running', version: 2 });
  });
});
