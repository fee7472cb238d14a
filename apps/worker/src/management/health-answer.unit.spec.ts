import { healthAnswer } from './health-answer';

const base = { processId: 'p-1', nodeId: 'n', appliedVersion: 3, checkedAt: 'now' };

describe('healthAnswer', () => {
  it('is 200 UP when every module is UP or DEGRADED', () => {
    const modules = {
      web: { state: 'running' as const, version: 3, health: { status: 'UP' as const } },
      db: { state: 'running' as const, version: 3, health: { status: 'DEGRADED' as const } },
      idle: { state: 'standby' as const, version: 3 },
    };
    expect(healthAnswer({ ...base, modules })).toEqual({
      statusCode: 200,
      body: { status: 'UP', ...base, modules },
    });
  });

  it('is 503 DOWN naming the failing modules', () => {
    const answer = healthAnswer({
      ...base,
      modules: {
        web: { state: 'running', version: 3, health: { status: 'UP' } },
        persistence: {
          state: 'running',
          version: 3,
          health: { status: 'DOWN', details: { error: 'database unreachable' } },
        },
      },
    });
    expect(answer.statusCode).toBe(503);
    expect(answer.body).toMatchObject({
      status: 'DOWN',
      message: 'modules not healthy: persistence (DOWN: database unreachable)',
    });
  });
});
