import { Inject, Injectable } from '@nestjs/common';
import { invalid, notFound, parseScalingPolicy } from '@plexus/domain';
import {
  CommandContext,
  Database,
  readNodeDocument,
  readScalingState,
  setScalingPolicy,
} from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { RelayService } from '../infra/relay.service';
import { checkId } from '../nodes/nodes.service';

/** A node's scaling policy and the process count recommended under it. */
@Injectable()
export class ScalingService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    private readonly relay: RelayService,
  ) {}

  async setPolicy(nodeId: string, body: unknown, ctx: CommandContext) {
    checkId('nodeId', nodeId);
    const parsed = parseScalingPolicy(body);
    if (parsed.problem !== undefined) throw invalid(parsed.problem);
    const metadata = {
      actor: ctx.actor,
      correlationId: ctx.correlationId,
      ...(ctx.reason ? { reason: ctx.reason } : {}),
    };
    const state = await this.breakers.postgres(() =>
      setScalingPolicy(this.db, nodeId, parsed.policy, metadata),
    );
    this.relay.committed();
    return state;
  }

  async get(nodeId: string) {
    checkId('nodeId', nodeId);
    const { doc, state } = await this.breakers.postgres(async () => ({
      doc: await readNodeDocument(this.db, nodeId),
      state: await readScalingState(this.db, nodeId),
    }));
    if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
    return (
      state ?? { nodeId, policy: null, desired: null, lastRecommendation: null, updatedAt: null }
    );
  }
}
