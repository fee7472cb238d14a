import { Inject, Injectable } from '@nestjs/common';
import { notFound } from '@plexus/domain';
import { Database, listProcesses, readNodeDocument, readVersionTime } from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { checkId } from '../nodes/nodes.service';
import { ConfigReportsService } from './config-reports.service';
import { MembershipService } from './membership.service';

/**
 * Which config version each live process of a node runs: the newer of its last applied report
 * (ConfigReportsService) and its last heartbeat.
 */
@Injectable()
export class RolloutService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly membership: MembershipService,
    private readonly reports: ConfigReportsService,
    private readonly breakers: DependencyBreakers,
  ) {}

  async rollout(nodeId: string) {
    checkId('nodeId', nodeId);
    const { doc, rows } = await this.breakers.postgres(async () => ({
      doc: await readNodeDocument(this.db, nodeId),
      rows: await listProcesses(this.db, { nodeId, status: 'up' }),
    }));
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    const processes = rows.map((row) => {
      const report = this.reports.latest(row.processId);
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
    const changedAt = await this.breakers.postgres(() =>
      readVersionTime(this.db, nodeId, doc.version),
    );
    // When the last live process's report of this version arrived (this replica's clock).
    const arrivals = rows
      .map((r) => this.reports.latest(r.processId))
      .filter((r) => r?.version === doc.version);
    const convergedAt =
      converged && rows.length > 0 && arrivals.length === rows.length
        ? new Date(Math.max(...arrivals.map((r) => r!.receivedAt)))
        : null;
    // Which process runs each `activation: single` module (null while none does).
    const active = Object.fromEntries(
      doc.modules
        .filter((m) => m.activation === 'single')
        .map((m) => [
          m.moduleId,
          processes.find((p) => p.modules[m.moduleId]?.state === 'running')?.processId ?? null,
        ]),
    );
    return {
      nodeId,
      version: doc.version,
      converged,
      active,
      processes,
      lastChange: {
        version: doc.version,
        changedAt: changedAt?.toISOString() ?? null,
        convergedAt: convergedAt?.toISOString() ?? null,
        convergeMs: convergedAt && changedAt ? convergedAt.getTime() - changedAt.getTime() : null,
      },
    };
  }
}
