import type { ProcessRuntimeStatus } from '@plexus/domain';
import { nodeVerdict, processVerdict } from './runtime-verdict';

const status = (
  processId: string,
  modules: ProcessRuntimeStatus['modules'],
): ProcessRuntimeStatus => ({
  processId,
  nodeId: 'fhir_node',
  appliedVersion: 5,
  modules,
  checkedAt: '2026-01-01T00:00:00.000Z',
});
const up = { state: 'running' as const, version: 5, health: { status: 'UP' as const } };
const dbDown = {
  state: 'running' as const,
  version: 5,
  health: { status: 'DOWN' as const, details: { error: 'database unreachable' } },
};

const sickProcess = (v: ReturnType<typeof nodeVerdict>) =>
  v.body.processes.find((p) => !('modules' in p));

describe('runtime status verdicts', () => {
  it('a process is healthy (200) when every module is UP or DEGRADED', () => {
    const verdict = processVerdict(
      status('p-1', {
        web: up,
        db: { state: 'running', version: 5, health: { status: 'DEGRADED' } },
        spare: { state: 'standby', version: 5 },
      }),
    );
    expect(verdict.healthy).toBe(true);
    expect(verdict.body).not.toHaveProperty('message');
    expect(verdict.body.modules.web).toEqual(up);
  });

  it('a process with a DOWN or failed module is not (503), naming them', () => {
    const verdict = processVerdict(
      status('p-1', {
        web: up,
        persistence: dbDown,
        cache: { state: 'failed', version: 5, error: 'redis refused' },
      }),
    );
    expect(verdict.healthy).toBe(false);
    expect(verdict.body.message).toBe(
      'modules not healthy: cache (DOWN: redis refused), persistence (DOWN: database unreachable)',
    );
  });

  it('a node is healthy only when every live process answered healthy', () => {
    const healthy = nodeVerdict('fhir_node', [
      { processId: 'p-1', status: status('p-1', { web: up }) },
      { processId: 'p-2', status: status('p-2', { web: up }) },
    ]);
    expect(healthy.healthy).toBe(true);
    expect(healthy.body.processes).toHaveLength(2);
    expect(healthy.body.failing).toEqual([]);
    expect(sickProcess(healthy)).toBeUndefined();

    const sick = nodeVerdict('fhir_node', [
      { processId: 'p-1', status: status('p-1', { web: up, persistence: dbDown }) },
      {
        processId: 'p-2',
        unanswered: 'did not answer within 2000 ms; it may be lost',
      },
    ]);
    expect(sick.healthy).toBe(false);
    expect(sick.body.failing).toEqual([
      { processId: 'p-1', moduleId: 'persistence', reason: 'DOWN: database unreachable' },
      { processId: 'p-2', reason: 'did not answer within 2000 ms; it may be lost' },
    ]);
    expect(sickProcess(sick)).toEqual({
      processId: 'p-2',
      nodeId: 'fhir_node',
      healthy: false,
      message: 'process p-2 did not answer within 2000 ms; it may be lost',
    });
    expect(sick.body.message).toBe(
      'modules not healthy: p-1/persistence (DOWN: database unreachable), p-2 (did not answer within 2000 ms; it may be lost)',
    );
  });

  it('a node with no live process is not healthy', () => {
    const verdict = nodeVerdict('fhir_node', []);
    expect(verdict.healthy).toBe(false);
    expect(verdict.body.message).toBe('node fhir_node has no live process');
  });
});
