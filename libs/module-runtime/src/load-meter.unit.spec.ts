import type { EventLoopUtilization } from 'node:perf_hooks';
import type { ModuleStatus } from '@plexus/domain';
import { LoadClock, LoadMeter } from './load-meter';

/** A clock whose event loop was busy `busy` ms out of `now` ms. */
function fakeClock() {
  const state = { now: 0, busy: 0 };
  const total = (): EventLoopUtilization => ({
    idle: state.now - state.busy,
    active: state.busy,
    utilization: state.now ? state.busy / state.now : 0,
  });
  const clock: LoadClock = {
    now: () => state.now,
    eventLoopUtilization: (current, previous) => {
      if (!current) return total();
      const active = current.active - (previous?.active ?? 0);
      const idle = current.idle - (previous?.idle ?? 0);
      return { active, idle, utilization: active + idle ? active / (active + idle) : 0 };
    },
  };
  return { state, clock };
}

const serving = (requests: Record<string, number>): Record<string, ModuleStatus> =>
  Object.fromEntries(
    Object.entries(requests).map(([id, n]) => [
      id,
      { state: 'running', version: 1, details: { requests: n } },
    ]),
  );

describe('process load meter', () => {
  it('reports event-loop utilisation and requests/s over the last interval only', () => {
    const { state, clock } = fakeClock();
    state.now = 10_000;
    state.busy = 9_000; // busy before the meter started: not counted
    const meter = new LoadMeter(clock);
    state.now += 2000;
    state.busy += 500;
    expect(meter.sample(serving({ web: 40, api: 10 }))).toEqual({
      eventLoopUtilization: 0.25,
      requestsPerSec: 25,
    });
    state.now += 1000;
    expect(meter.sample(serving({ web: 70, api: 10 }))).toEqual({
      eventLoopUtilization: 0,
      requestsPerSec: 30,
    });
  });

  it('counts a module whose counter went down (restarted) from zero, and ignores modules without one', () => {
    const { state, clock } = fakeClock();
    const meter = new LoadMeter(clock);
    state.now += 1000;
    meter.sample(serving({ web: 100 }));
    state.now += 1000;
    const modules = {
      ...serving({ web: 7 }),
      security: { state: 'running', version: 1, details: { sessions: 3 } } as ModuleStatus,
    };
    expect(meter.sample(modules).requestsPerSec).toBe(7);
  });
});
