import type { Registry } from 'prom-client';
import type { HealthStatus, ModuleHealthReport } from '@plexus/domain';

const HEALTH_STATUSES: HealthStatus[] = ['UP', 'DEGRADED', 'DOWN'];

/** What the metrics read when scraped. */
export interface WorkerMetricsSources {
  appliedVersion(): number;
  health(): Readonly<Record<string, ModuleHealthReport>>;
  configChangesApplied(): number;
  heartbeatsSent(): number;
}

/**
 * The worker's Prometheus registry: process metrics, the applied config version, each module's
 * health (`plexus_module_health{module,status}` is 1 for its current status and 0 for the
 * others), node documents applied and heartbeats sent. Values are read when scraped. prom-client
 * is loaded here, on first use, so a worker without a management port does not carry it.
 */
export function workerMetrics(
  sources: WorkerMetricsSources,
  labels: { node: string; process: string },
): Registry {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prom = require('prom-client') as typeof import('prom-client');
  const registry = new prom.Registry();
  registry.setDefaultLabels(labels);
  // Event-loop delay sampled every 100 ms, not prom-client's 10 ms: 10 wake-ups a second, not 100.
  prom.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  new prom.Gauge({
    name: 'plexus_config_version_applied',
    help: 'Version of the node document this process applied last',
    registers: [registry],
    collect() {
      this.set(sources.appliedVersion());
    },
  });
  new prom.Gauge({
    name: 'plexus_module_health',
    help: "1 for a module's current health status (UP, DEGRADED or DOWN), 0 for the others",
    labelNames: ['module', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [module, health] of Object.entries(sources.health()))
        for (const status of HEALTH_STATUSES)
          this.set({ module, status }, health.status === status ? 1 : 0);
    },
  });
  new prom.Counter({
    name: 'plexus_config_changes_applied_total',
    help: 'Node documents (config changes) this process applied',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.configChangesApplied());
    },
  });
  new prom.Counter({
    name: 'plexus_heartbeats_sent_total',
    help: 'Heartbeats this process published',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.heartbeatsSent());
    },
  });
  return registry;
}
