import { Inject, Injectable } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { runtimeStatusSubject } from '@plexus/bus';
import { invalid, notFound, ProcessRuntimeStatus } from '@plexus/domain';
import { Database, listProcesses, readNodeDocument, readProcess } from '@plexus/event-store';
import { errorText } from '@plexus/common';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE, NATS } from '../infra/injection-tokens';
import { checkId } from '../nodes/nodes.service';
import { nodeVerdict, ProcessAnswer, processVerdict } from './runtime-verdict';

/**
 * A live process answers within its health bound (a second per module, checked at once); one
 * that does not answer in this time is stopped, hung or gone, and a monitor must hear so within
 * two seconds.
 */
export const RUNTIME_STATUS_TIMEOUT_MS = 1500;

/** Process IDs are `p-` and hex (the worker makes them); this also keeps the subject one token. */
const PROCESS_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Runtime status, as Smile CDR has it: each live process is asked over NATS (request/reply on its
 * own subject) for its modules' state and health, answered from a check made for the request.
 */
@Injectable()
export class RuntimeStatusService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly breakers: DependencyBreakers,
  ) {}

  async ofProcess(processId: string) {
    if (!PROCESS_ID.test(processId))
      throw invalid(`processId must be 1-64 of A-Z a-z 0-9 _ - (got "${processId.slice(0, 70)}")`);
    const row = await this.breakers.postgres(() => readProcess(this.db, processId));
    if (!row) throw notFound(`process "${processId}" does not exist`);
    if (row.status === 'left')
      return {
        healthy: false,
        body: {
          processId,
          nodeId: row.nodeId,
          healthy: false,
          message: `process ${processId} left at ${row.leftAt}: it runs no modules`,
        },
      };
    const answer = await this.ask(row.nodeId, processId);
    if ('unanswered' in answer)
      return {
        healthy: false,
        body: {
          processId,
          nodeId: row.nodeId,
          healthy: false,
          message: `process ${processId} ${answer.unanswered}`,
        },
      };
    return processVerdict(answer.status);
  }

  async ofNode(nodeId: string) {
    checkId('nodeId', nodeId);
    const { doc, rows } = await this.breakers.postgres(async () => ({
      doc: await readNodeDocument(this.db, nodeId),
      rows: await listProcesses(this.db, { nodeId, status: 'up' }),
    }));
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    const answers = await Promise.all(rows.map((r) => this.ask(nodeId, r.processId)));
    return nodeVerdict(nodeId, answers);
  }

  /** One process's runtime status, or why it gave none (within RUNTIME_STATUS_TIMEOUT_MS). */
  private async ask(nodeId: string, processId: string): Promise<ProcessAnswer> {
    try {
      const msg = await this.nc.request(runtimeStatusSubject(nodeId, processId), '', {
        timeout: RUNTIME_STATUS_TIMEOUT_MS,
      });
      const status = JSON.parse(new TextDecoder().decode(msg.data)) as ProcessRuntimeStatus;
      if (status?.processId !== processId || typeof status.modules !== 'object')
        return { processId, unanswered: 'answered something other than its runtime status' };
      return { processId, status };
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why =
        code === '503'
          ? 'is not listening; it may be lost'
          : code === 'TIMEOUT'
            ? `did not answer within ${RUNTIME_STATUS_TIMEOUT_MS} ms; it may be lost`
            : `could not be asked: ${errorText(err)}`;
      return { processId, unanswered: why };
    }
  }
}
