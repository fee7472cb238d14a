import { RolloutView, rolloutVerdict } from './rollout-verdict';

const proc = (p: Partial<RolloutView['processes'][number]>) => ({
  processId: 'n-1',
  appliedVersion: 3,
  ok: true,
  modules: { web: { state: 'running', version: 3 } },
  ...p,
});
const view = (processes: RolloutView['processes'], converged = false): RolloutView => ({
  nodeId: 'n',
  converged,
  lastChange: { version: 3 },
  processes,
});

describe('rollout verdict', () => {
  it('is converged when every live process applied the latest version', () => {
    expect(rolloutVerdict(view([proc({})], true))).toEqual({ state: 'converged' });
  });

  it('waits while a process is behind, and while no process runs the node', () => {
    expect(rolloutVerdict(view([proc({}), proc({ processId: 'n-2', appliedVersion: 2 })]))).toEqual(
      {
        state: 'waiting',
        why: '1 of 2 processes behind',
      },
    );
    expect(rolloutVerdict(view([], true))).toEqual({
      state: 'waiting',
      why: 'no live process runs the node',
    });
  });

  it('fails naming the module and its error when a process failed the latest version', () => {
    const failed = proc({
      ok: false,
      modules: { clash: { state: 'failed', version: 3, error: 'listen EADDRINUSE' } },
    });
    expect(rolloutVerdict(view([failed]))).toEqual({
      state: 'failed',
      failures: ['n-1: module clash failed: listen EADDRINUSE'],
    });
    // a failure of an older version may still be fixed by the latest one
    expect(rolloutVerdict(view([{ ...failed, appliedVersion: 2 }])).state).toBe('waiting');
  });
});
