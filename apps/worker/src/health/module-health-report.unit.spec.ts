import {
  changedHealth,
  checkHealthAfter,
  HEALTH_DETAILS_MAX_CHARS,
  runtimeStatusOf,
  smallHealth,
} from './module-health-report';

describe('module health reports', () => {
  it('checks health at once after an apply that started, stopped or failed a module', () => {
    const spec = { moduleId: 'web' } as never;
    const reconfigure = { action: 'reconfigure', moduleId: 'web', spec, changedKeys: ['message'] };
    const start = { action: 'start', moduleId: 'db', spec, reason: 'new' };
    const stop = { action: 'stop', moduleId: 'db', reason: 'removed' };
    expect(checkHealthAfter({ ok: true, steps: [reconfigure] } as never)).toBe(false);
    expect(checkHealthAfter({ ok: true, steps: [] })).toBe(false);
    expect(checkHealthAfter({ ok: false, steps: [reconfigure] } as never)).toBe(true);
    expect(checkHealthAfter({ ok: true, steps: [reconfigure, start] } as never)).toBe(true);
    expect(checkHealthAfter({ ok: true, steps: [stop] } as never)).toBe(true);
  });

  it('keeps small details and cuts large ones down to their error', () => {
    expect(smallHealth({ status: 'UP', details: { jobs: 2 } })).toEqual({
      status: 'UP',
      details: { jobs: 2 },
    });
    const big = smallHealth({
      status: 'DOWN',
      details: { error: 'database unreachable', dump: 'x'.repeat(HEALTH_DETAILS_MAX_CHARS) },
    });
    expect(big.status).toBe('DOWN');
    expect(big.details).toEqual({
      error: 'database unreachable',
      truncated: `details longer than ${HEALTH_DETAILS_MAX_CHARS} characters left out`,
    });
  });

  it('names the modules whose status changed, appeared or went', () => {
    expect(
      changedHealth(
        { a: { status: 'UP' }, b: { status: 'UP' }, c: { status: 'DOWN' } },
        { a: { status: 'UP', details: { n: 2 } }, b: { status: 'DOWN' }, d: { status: 'UP' } },
      ),
    ).toEqual(['b', 'c', 'd']);
  });

  it('answers state and health per module, without runtime details of status()', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    expect(
      runtimeStatusOf(
        { processId: 'p-1', nodeId: 'n' },
        4,
        {
          db: { state: 'running', version: 4, details: { pool: 1 } },
          web: { state: 'failed', version: 4, error: 'port taken' },
        },
        {
          db: { status: 'DOWN', details: { error: 'database unreachable' } },
          web: { status: 'DOWN', details: { error: 'port taken' } },
        },
        at,
      ),
    ).toEqual({
      processId: 'p-1',
      nodeId: 'n',
      appliedVersion: 4,
      checkedAt: '2026-01-02T03:04:05.000Z',
      modules: {
        db: {
          state: 'running',
          version: 4,
          health: { status: 'DOWN', details: { error: 'database unreachable' } },
        },
        web: {
          state: 'failed',
          version: 4,
          error: 'port taken',
          health: { status: 'DOWN', details: { error: 'port taken' } },
        },
      },
    });
  });
});
