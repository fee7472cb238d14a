import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { NatsConnection, Subscription } from 'nats';
import { APPLIED_ALL, AppliedReport } from '@plexus/bus';
import { notFound } from '@plexus/domain';
import {
  Database,
  listProcesses,
  readNodeDocument,
  readRolloutTimes,
  recordProcessConfigOutcome,
} from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { RelayService } from '../infra/relay.service';
import { DATABASE, NATS } from '../infra/tokens';
import { checkId } from '../nodes/nodes.service';
import { MembershipService } from './membership.service';

/**
 * Which config version each live process of a node runs. Processes report every document they
 * apply; the replica holding the relay lock records each report as ProcessConfigApplied or
 * ProcessConfigFailed (so exactly one replica does), and every replica keeps the latest report of
 * every process for the rollout view.
 */
@Injectable()
export class RolloutService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Rollout');
  private readonly latest = new Map<string, AppliedReport>();
  private sub: Subscription | null = null;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly membership: MembershipService,
    private readonly relay: RelayService,
    private readonly breakers: DependencyBreakers,
  ) {}

  onApplicationBootstrap() {
    this.sub = this.nc.subscribe(APPLIED_ALL, {
      callback: (_err, msg) => {
        let report: AppliedReport;
        try {
          report = msg.json<AppliedReport>();
        } catch {
          return; // a malformed report is ignored
        }
        const previous = this.latest.get(report.processId);
        if (!previous || previous.version <= report.version)
          this.latest.set(report.processId, report);
        if (this.relay.isLeader) void this.record(report);
      },
    });
  }

  onModuleDestroy() {
    this.sub?.unsubscribe();
  }

  private async record(report: AppliedReport) {
    try {
      await recordProcessConfigOutcome(
        this.db,
        report,
        { version: report.version, ok: report.ok, modules: report.modules },
        { actor: `process:${report.processId}`, correlationId: report.processId },
      );
      this.relay.committed();
    } catch (err) {
      this.logger.warn(
        `could not record the applied report of ${report.processId}: ${(err as Error).message}`,
      );
    }
  }

  async rollout(nodeId: string) {
    checkId('nodeId', nodeId);
    const { doc, rows } = await this.breakers.postgres(async () => ({
      doc: await readNodeDocument(this.db, nodeId),
      rows: await listProcesses(this.db, { nodeId, status: 'up' }),
    }));
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    const processes = rows.map((row) => {
      const report = this.latest.get(row.processId);
      const hb = this.membership.lastHeartbeat(row.processId);
      // The newer of the last applied report and the last heartbeat.
      const useReport = report && (!hb || report.version >= hb.appliedVersion);
      return {
        processId: row.processId,
        host: row.host,
        pid: row.pid,
        portOffset: row.portOffset,
        appliedVersion: useReport ? report.version : (hb?.appliedVersion ?? null),
        ok: useReport
          ? report.ok
          : hb
            ? Object.values(hb.modules).every((m) => m.state !== 'failed')
            : null,
        modules: useReport ? report.modules : (hb?.modules ?? {}),
      };
    });
    const converged = processes.every((p) => p.appliedVersion === doc.version && p.ok === true);
    const times = await this.breakers.postgres(() =>
      readRolloutTimes(this.db, nodeId, doc.version),
    );
    const convergedAt = converged ? times.lastAppliedAt : null;
    return {
      nodeId,
      version: doc.version,
      converged,
      processes,
      lastChange: {
        version: doc.version,
        changedAt: times.changedAt?.toISOString() ?? null,
        convergedAt: convergedAt?.toISOString() ?? null,
        convergeMs:
          convergedAt && times.changedAt ? convergedAt.getTime() - times.changedAt.getTime() : null,
      },
    };
  }
}
