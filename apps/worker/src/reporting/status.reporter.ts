import { hostname } from 'node:os';
import type { NatsConnection } from 'nats';
import {
  announceMembership,
  AppliedReport,
  ModuleLeases,
  publishAppliedReport,
  publishHeartbeat,
} from '@plexus/bus';
import type { ModuleHealthReport, ProcessIdentity } from '@plexus/domain';
import { ApplyResult, LoadMeter, ModuleHost } from '@plexus/module-runtime';
import type { Logger } from 'pino';
import { sleep } from '@plexus/common';
import { WorkerOptions } from '../cli';
import { fieldLogger } from '../logger';

export const HEARTBEAT_MS = 1000;
/**
 * Applied reports go out this long after the apply (with the apply's own timestamp), so that
 * during a fan-out to many processes on few cores, the CPU goes to applying, not to reporting:
 * measured with 3 processes, the report's socket write was a third of a process's CPU per change.
 */
export const REPORT_DELAY_MS = 30;

/** What a heartbeat reads: the host's module states and the leases this process holds. */
export interface HeartbeatSources {
  host: Pick<ModuleHost, 'appliedVersion' | 'detailedStatuses'>;
  leases: Pick<ModuleLeases, 'held'>;
  /** The latest health of each module (HealthMonitor.latest); absent: heartbeats carry none. */
  health?: () => Readonly<Record<string, ModuleHealthReport>>;
}

/**
 * Tells the control plane about this process: `joined` and `left` on the membership stream, a
 * heartbeat every second, and what each apply did (batched, see REPORT_DELAY_MS).
 */
export class StatusReporter {
  private nc: NatsConnection | null = null;
  private joined: Promise<boolean> | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private loadMeter: LoadMeter | null = null;
  private unreported: AppliedReport[] = [];
  private reportTimer: NodeJS.Timeout | null = null;
  private sources: HeartbeatSources | null = null;
  /** Heartbeats published since the start (for the management port's metrics). */
  heartbeatsSent = 0;
  private readonly log;

  constructor(
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    readonly processId: string,
  ) {
    this.log = fieldLogger(logger);
  }

  identity(): ProcessIdentity {
    return {
      processId: this.processId,
      nodeId: this.options.nodeId,
      host: hostname(),
      pid: process.pid,
      portOffset: this.options.portOffset,
    };
  }

  /**
   * Announces `joined` (retrying in the background until acknowledged or `cancelled`) and
   * heartbeats from now on.
   */
  join(nc: NatsConnection, sources: HeartbeatSources, cancelled: () => boolean) {
    this.nc = nc;
    this.joined = announceMembership(
      nc,
      { ...this.identity(), what: 'joined', at: new Date().toISOString() },
      { logger: this.log, cancelled },
    );
    this.loadMeter = new LoadMeter();
    this.sources = sources;
    this.heartbeat = setInterval(() => this.sendHeartbeat(sources), HEARTBEAT_MS);
  }

  /**
   * Sends a heartbeat now, between the periodic ones (a module's health changed), so that the
   * control plane hears of it at once; nothing before joining or after stop().
   */
  beatNow() {
    if (this.heartbeat && this.sources) this.sendHeartbeat(this.sources);
  }

  /** Queues the report of an apply; the batch goes out REPORT_DELAY_MS after its first one. */
  reportApplied(result: ApplyResult) {
    this.unreported.push({
      processId: this.processId,
      nodeId: this.options.nodeId,
      version: result.version,
      ok: result.ok,
      hrtimeNs: result.hrtime.toString(),
      modules: result.modules,
    });
    this.reportTimer ??= setTimeout(() => this.sendReports(), REPORT_DELAY_MS);
  }

  /** Stops heartbeating and sends the reports still queued. */
  stop() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.sendReports();
  }

  /**
   * Announces `left` once `joined` went out (up to ~3 s for the ack); does nothing when the
   * process never joined or NATS is closed.
   */
  async leave(): Promise<void> {
    const nc = this.nc;
    if (!nc || nc.isClosed() || !this.joined) return;
    await Promise.race([this.joined, sleep(2500)]);
    const acked = await announceMembership(
      nc,
      { ...this.identity(), what: 'left', at: new Date().toISOString() },
      { logger: this.log, deadlineMs: 3000 },
    );
    if (!acked) this.logger.warn('leaving without an acknowledged "left" announcement');
  }

  private sendReports() {
    this.reportTimer = null;
    const reports = this.unreported.splice(0);
    if (this.nc) for (const report of reports) publishAppliedReport(this.nc, report);
  }

  private sendHeartbeat({ host, leases, health }: HeartbeatSources) {
    if (!this.nc) return;
    const modules = host.detailedStatuses();
    const sent = publishHeartbeat(this.nc, {
      ...this.identity(),
      appliedVersion: host.appliedVersion,
      modules,
      activeModules: leases.held().filter((id) => modules[id]?.state === 'running'),
      at: new Date().toISOString(),
      ...(this.loadMeter ? { load: this.loadMeter.sample(modules) } : {}),
      ...(health ? { health: { ...health() } } : {}),
    });
    if (sent) this.heartbeatsSent++;
  }
}
