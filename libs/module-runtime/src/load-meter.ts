import { EventLoopUtilization, performance } from 'node:perf_hooks';
import type { ModuleStatus, ProcessLoad } from '@plexus/domain';

/** The two readings a LoadMeter takes; real ones by default, fakes in tests. */
export interface LoadClock {
  /** As perf_hooks: no argument, the total so far; two, the difference between them. */
  eventLoopUtilization(
    current?: EventLoopUtilization,
    previous?: EventLoopUtilization,
  ): EventLoopUtilization;
  now(): number;
}

const realClock: LoadClock = {
  eventLoopUtilization: (current, previous) => performance.eventLoopUtilization(current, previous),
  now: () => Date.now(),
};

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * A process's load since the previous sample: event-loop utilisation from perf_hooks deltas, and
 * requests/s from the deltas of the `requests` counter each module reports in its status
 * details. A counter that went down (the module restarted) counts from zero.
 */
export class LoadMeter {
  private elu: EventLoopUtilization;
  private at: number;
  private readonly requests = new Map<string, number>();

  constructor(private readonly clock: LoadClock = realClock) {
    this.elu = clock.eventLoopUtilization();
    this.at = clock.now();
  }

  sample(modules: Record<string, ModuleStatus>): ProcessLoad {
    const elu = this.clock.eventLoopUtilization();
    const delta = this.clock.eventLoopUtilization(elu, this.elu);
    const now = this.clock.now();
    const seconds = Math.max(0.001, (now - this.at) / 1000);
    let served = 0;
    const seen = new Set<string>();
    for (const [moduleId, status] of Object.entries(modules)) {
      const count = status.details?.requests;
      if (typeof count !== 'number') continue;
      seen.add(moduleId);
      const before = this.requests.get(moduleId) ?? 0;
      served += count >= before ? count - before : count;
      this.requests.set(moduleId, count);
    }
    for (const moduleId of [...this.requests.keys()])
      if (!seen.has(moduleId)) this.requests.delete(moduleId);
    this.elu = elu;
    this.at = now;
    return {
      eventLoopUtilization: round(Math.min(1, Math.max(0, delta.utilization)), 4),
      requestsPerSec: round(served / seconds, 2),
    };
  }
}
