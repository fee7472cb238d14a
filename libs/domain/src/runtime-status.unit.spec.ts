import { moduleProblem, moduleProblems, notHealthyMessage } from './runtime-status';

describe('runtime status rules', () => {
  it('counts UP and DEGRADED running modules as healthy, and idle ones as no problem', () => {
    expect(moduleProblem({ state: 'running', version: 1, health: { status: 'UP' } })).toBeNull();
    expect(
      moduleProblem({
        state: 'running',
        version: 1,
        health: { status: 'DEGRADED', details: { error: 'slow' } },
      }),
    ).toBeNull();
    expect(moduleProblem({ state: 'standby', version: 1 })).toBeNull();
    expect(moduleProblem({ state: 'unsupported', version: 1 })).toBeNull();
  });

  it('names why a module is down: its health details, else its error', () => {
    expect(
      moduleProblem({
        state: 'running',
        version: 1,
        health: { status: 'DOWN', details: { error: 'database unreachable' } },
      }),
    ).toBe('DOWN: database unreachable');
    expect(moduleProblem({ state: 'failed', version: 1, error: 'port 8000 is taken' })).toBe(
      'DOWN: port 8000 is taken',
    );
    expect(moduleProblem({ state: 'running', version: 1, health: { status: 'DOWN' } })).toBe(
      'DOWN',
    );
    const long = moduleProblem({
      state: 'running',
      version: 1,
      health: { status: 'DOWN', details: { error: 'x'.repeat(500) } },
    });
    expect(long!.length).toBeLessThanOrEqual(210);
  });

  it('lists the failing modules by ID in one message', () => {
    const problems = moduleProblems({
      web: { state: 'running', version: 2, health: { status: 'UP' } },
      persistence: {
        state: 'running',
        version: 2,
        health: { status: 'DOWN', details: { error: 'database unreachable' } },
      },
      cache: { state: 'failed', version: 2, error: 'no redis' },
    });
    expect(problems).toEqual([
      { moduleId: 'cache', reason: 'DOWN: no redis' },
      { moduleId: 'persistence', reason: 'DOWN: database unreachable' },
    ]);
    expect(notHealthyMessage(problems.map((p) => ({ name: p.moduleId, reason: p.reason })))).toBe(
      'modules not healthy: cache (DOWN: no redis), persistence (DOWN: database unreachable)',
    );
  });
});
