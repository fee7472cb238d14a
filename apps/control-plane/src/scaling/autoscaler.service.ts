import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Heartbeat } from '@plexus/bus';
import { recommendReplicas, ScalingPolicy, TimedRecommendation } from '@plexus/domain';
import {
  Database,
  listProcesses,
  listScalingStates,
  recordScaleRecommended,
  ScalingState,
} from '@plexus/event-store';
import { CONTROL_PLANE_ACTOR } from '../auth/actors';
import { ControlPlaneEnv } from '../env';
import { DATABASE } from '../infra/injection-tokens';
import { LeaderInterval } from '../infra/leader-interval';
import { RelayService } from '../infra/relay.service';
import { MembershipService } from '../processes/membership.service';

/** A heartbeat older than this says nothing about the current load. */
const STALE_LOAD_MS = 3000;

const metricValue = (hb: Heartbeat, policy: ScalingPolicy) =>
  policy.metric === 'requestsPerSec'
    ? hb.load!.requestsPerSec
    : hb.load!.eventLoopUtilization * 100;

/**
 * Every SCALE_EVALUATE_MS, for each node with a scaling policy, recommends a process count from
 * the load its live processes report in their heartbeats (HPA-style, libs/domain scaling.ts) and
 * records ScaleRecommended when the count changes. Runs on the replica holding the relay lease,
 * like the failure detector; the raw recommendations the windows look back on are kept in memory
 * (a replica taking over starts with none, as a restarted Kubernetes controller does).
 */
@Injectable()
export class AutoscalerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Autoscaler');
  private readonly histories = new Map<string, TimedRecommendation[]>();
  private readonly interval: LeaderInterval;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly membership: MembershipService,
    private readonly relay: RelayService,
    env: ControlPlaneEnv,
  ) {
    this.interval = new LeaderInterval(relay, env.SCALE_EVALUATE_MS, () => this.evaluate());
  }

  onApplicationBootstrap() {
    this.interval.start();
  }

  onModuleDestroy() {
    return this.interval.stop();
  }

  private async evaluate(): Promise<void> {
    try {
      const states = await listScalingStates(this.db);
      // Nodes whose policy is gone (or that were archived) need no history any more.
      const withPolicy = new Set(states.map((s) => s.nodeId));
      for (const nodeId of this.histories.keys())
        if (!withPolicy.has(nodeId)) this.histories.delete(nodeId);
      if (!states.length) return;
      const live = await listProcesses(this.db, { status: 'up' });
      for (const state of states)
        await this.evaluateNode(
          state,
          live.filter((p) => p.nodeId === state.nodeId).map((p) => p.processId),
        );
    } catch (err) {
      this.logger.warn(`scaling evaluation failed: ${(err as Error).message}`);
    }
  }

  private async evaluateNode(state: ScalingState, processIds: string[]) {
    const now = Date.now();
    const samples = processIds
      .map((id) => this.membership.lastHeartbeat(id))
      .filter((hb) => hb?.load && now - hb.receivedAt <= STALE_LOAD_MS)
      .map((hb) => metricValue(hb!, state.policy));
    const result = recommendReplicas({
      policy: state.policy,
      currentReplicas: state.desired,
      samples,
      history: this.histories.get(state.nodeId) ?? [],
      now,
    });
    this.histories.set(state.nodeId, result.history);
    if (result.desired === state.desired) return;
    const currentValue = samples.length
      ? Math.round((samples.reduce((a, b) => a + b, 0) / samples.length) * 100) / 100
      : null;
    const recorded = await recordScaleRecommended(
      this.db,
      state.nodeId,
      state.policy,
      {
        from: state.desired,
        to: result.desired,
        currentProcesses: processIds.length,
        metric: state.policy.metric,
        currentValue,
        target: state.policy.target,
        reason: result.reason,
      },
      { actor: CONTROL_PLANE_ACTOR, correlationId: randomUUID() },
    );
    if (!recorded) return;
    this.relay.committed();
    this.logger.log(
      `node ${state.nodeId}: ${state.desired} -> ${result.desired} processes (${state.policy.metric} ${currentValue} against ${state.policy.target}: ${result.reason})`,
    );
  }
}
