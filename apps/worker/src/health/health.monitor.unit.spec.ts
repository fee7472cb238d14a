import type { ModuleHealthReport } from '@plexus/domain';
import { HealthMonitor } from './health.monitor';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('HealthMonitor', () => {
  it('calls onChange only when a status changes, and keeps the latest result', async () => {
    let health: Record<string, ModuleHealthReport> = { db: { status: 'UP' } };
    const changes: string[][] = [];
    const monitor = new HealthMonitor({
      host: { health: async () => health },
      everyMs: 60_000,
      logger: quiet,
      onChange: (ids) => changes.push(ids),
    });
    await monitor.check();
    health = { db: { status: 'UP', details: { jobs: 1 } } };
    await monitor.check();
    expect(changes).toEqual([['db']]); // the first check: db appeared
    health = { db: { status: 'DOWN', details: { error: 'database unreachable' } } };
    await monitor.check();
    expect(changes).toEqual([['db'], ['db']]);
    expect(monitor.latest).toEqual(health);
    expect(monitor.checkedAt).toBeInstanceOf(Date);
  });

  it('shares a check under way instead of starting another', async () => {
    let calls = 0;
    let release!: () => void;
    const monitor = new HealthMonitor({
      host: {
        health: () => {
          calls++;
          return new Promise((resolve) => (release = () => resolve({ a: { status: 'UP' } })));
        },
      },
      everyMs: 60_000,
      logger: quiet,
      onChange: () => undefined,
    });
    const first = monitor.check();
    const second = monitor.check();
    release();
    expect(await first).toEqual(await second);
    expect(calls).toBe(1);
  });

  it('checks periodically once started, and no more once stopped', async () => {
    jest.useFakeTimers();
    try {
      let calls = 0;
      const monitor = new HealthMonitor({
        host: { health: async () => (calls++, {}) },
        everyMs: 1000,
        logger: quiet,
        onChange: () => undefined,
      });
      monitor.start();
      await jest.advanceTimersByTimeAsync(3000);
      expect(calls).toBe(4); // at start, then every second
      monitor.stop();
      await jest.advanceTimersByTimeAsync(3000);
      expect(calls).toBe(4);
    } finally {
      jest.useRealTimers();
    }
  });
});
