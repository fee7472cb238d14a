import { Inject, Injectable } from '@nestjs/common';
import {
  conflict,
  invalid,
  modulesLimitingToOneProcess,
  ModuleTypeCatalog,
  notFound,
  oneProcessReason,
  parseScalingPolicy,
} from '@plexus/domain';
import {
  CommandContext,
  Database,
  readNodeDocument,
  readScalingState,
  setScalingPolicy,
} from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { CATALOG, DATABASE } from '../infra/injection-tokens';
import { RelayService } from '../infra/relay.service';
import { checkId } from '../nodes/nodes.service';

/** A node's scaling policy and the process count recommended under it. */
@Injectable()
export class ScalingService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
    private readonly relay: RelayService,
    @Inject(CATALOG) private readonly catalog: ModuleTypeCatalog,
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
    const state = await this.breakers.postgres(async () => {
      // A policy that allows more than one process of a node one of whose modules is unsafe
      // with more than one (a local index run active/active) is refused, saying why.
      const doc = await readNodeDocument(this.db, nodeId);
      const limiting = doc ? modulesLimitingToOneProcess(doc, this.catalog) : [];
      if (parsed.policy.max > 1 && limiting.length)
        throw conflict(oneProcessReason(nodeId, limiting, parsed.policy.max));
      return setScalingPolicy(this.db, nodeId, parsed.policy, metadata, ctx.expectedVersion);
    });
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
