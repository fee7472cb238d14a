import { Inject, Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { countProcesses, Database, listScalingStates } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { RelayService } from '../infra/relay.service';
import { DATABASE } from '../infra/injection-tokens';

/** Seconds, from a few milliseconds (a hot apply) to a minute (a slow rollout). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The control plane's Prometheus metrics. A registry per app instance (not prom-client's global
 * one), so several control planes in one process (tests) do not collide. Gauges that come from
 * Postgres are read when scraped; histograms and counters are fed by the services that see the
 * events, on the replica that sees them (the relay leader for relay and rollout timings).
 */
@Injectable()
export class MetricsService {
  private readonly logger = new Logger('Metrics');
  readonly registry = new Registry();

  /** Write acknowledged (event recorded) -> a process reported it applied, per process. */
  readonly propagation = new Histogram({
    name: 'plexus_config_propagation_seconds',
    help: 'Time from a node config version being recorded to one process reporting it applied',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** Write acknowledged -> every live process of the node reported it applied. */
  readonly convergence = new Histogram({
    name: 'plexus_config_convergence_seconds',
    help: 'Time from a node config version being recorded to every live process of the node applying it',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly configReports = new Counter({
    name: 'plexus_config_reports_total',
    help: 'Applied-config reports recorded as events, by outcome (applied or failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  private readonly relayLag = new Histogram({
    name: 'plexus_relay_lag_seconds',
    help: 'Age of the oldest event of each batch the relay published (commit -> NATS)',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly relayPublished = new Counter({
    name: 'plexus_relay_published_events_total',
    help: 'Events this replica published to NATS as relay leader',
    registers: [this.registry],
  });

  private readonly relayOversizedEvents = new Counter({
    name: 'plexus_relay_oversized_events_total',
    help: "Events larger than the NATS server's max_payload, published as a stub (truncated: true) by this replica",
    registers: [this.registry],
  });

  private readonly relayOversizedDocuments = new Counter({
    name: 'plexus_relay_oversized_documents_total',
    help: "Node documents larger than the NATS server's max_payload, not put to the nodes bucket by this replica",
    registers: [this.registry],
  });

  private readonly relayDirectPuts = new Counter({
    name: 'plexus_relay_direct_puts_total',
    help: "Node documents this replica put into the nodes bucket as soon as they were committed (the fast path; the relay puts the others after reading them back), by whose commit: origin=local (this replica's) or standby (sent by another replica)",
    labelNames: ['origin'],
    registers: [this.registry],
  });

  constructor(@Inject(DATABASE) db: Database, breakers: DependencyBreakers, relay: RelayService) {
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'plexus_control_plane_',
      // The event-loop delay is sampled by a timer: at prom-client's default of every 10 ms it
      // woke an idle control plane 100 times a second. Ten samples a second suffice for a
      // metric scraped every few seconds.
      eventLoopMonitoringPrecision: 100,
    });
    relay.onPublished((count, lagMs) => {
      this.relayPublished.inc(count);
      this.relayLag.observe(lagMs / 1000);
    });
    relay.onDirectPut((origin) => this.relayDirectPuts.inc({ origin }));
    relay.onOversized(({ kind }) =>
      (kind === 'event' ? this.relayOversizedEvents : this.relayOversizedDocuments).inc(),
    );
    new Gauge({
      name: 'plexus_relay_leader',
      help: '1 on the replica that holds the relay lease (and runs the relay, webhooks, failure detector and autoscaler)',
      registers: [this.registry],
      collect() {
        this.set(relay.isLeader ? 1 : 0);
      },
    });
    new Gauge({
      name: 'plexus_relay_leader_term',
      help: 'The relay lease term this replica holds (grows on every takeover); 0 when it does not lead',
      registers: [this.registry],
      collect() {
        this.set(Number(relay.term ?? 0));
      },
    });
    const logger = this.logger;
    new Gauge({
      name: 'plexus_processes',
      help: 'Node processes by node and status (up, lost, left)',
      labelNames: ['node', 'status'],
      registers: [this.registry],
      async collect() {
        try {
          const counts = await breakers.postgres(() => countProcesses(db));
          this.reset();
          for (const c of counts) this.set({ node: c.nodeId, status: c.status }, c.count);
        } catch (err) {
          // A scrape still answers with everything else while Postgres is down.
          logger.warn(`plexus_processes not collected: ${(err as Error).message}`);
        }
      },
    });
    new Gauge({
      name: 'plexus_desired_processes',
      help: 'Process count recommended for each node with a scaling policy (ScaleRecommended)',
      labelNames: ['node'],
      registers: [this.registry],
      async collect() {
        try {
          const states = await breakers.postgres(() => listScalingStates(db));
          this.reset();
          for (const s of states) this.set({ node: s.nodeId }, s.desired);
        } catch (err) {
          logger.warn(`plexus_desired_processes not collected: ${(err as Error).message}`);
        }
      },
    });
  }

  /** Adds a metric another feature feeds by another feature (desired processes, webhooks, ...). */
  register<T extends Gauge | Counter | Histogram>(metric: T): T {
    this.registry.registerMetric(metric);
    return metric;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
