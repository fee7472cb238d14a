import type { NatsConnection, Subscription } from 'nats';
import { runtimeStatusSubject } from '@plexus/bus';
import type { ModuleHost, ModuleLogger } from '@plexus/module-runtime';
import { errorText } from '@plexus/common';
import { HealthMonitor } from './health.monitor';
import { runtimeStatusOf } from './module-health-report';

/**
 * Answers the control plane's runtime-status requests for this process
 * (runtimeStatusSubject): module states and a health check made for the answer.
 */
export class RuntimeStatusResponder {
  private subscription: Subscription | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly identity: { nodeId: string; processId: string },
    private readonly host: Pick<ModuleHost, 'statuses' | 'appliedVersion'>,
    private readonly monitor: HealthMonitor,
    private readonly logger: ModuleLogger,
  ) {}

  start(): void {
    if (this.subscription || this.nc.isClosed()) return;
    this.subscription = this.nc.subscribe(
      runtimeStatusSubject(this.identity.nodeId, this.identity.processId),
      { callback: (err, msg) => !err && void this.answer(msg) },
    );
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  private async answer(msg: { respond(data: string): boolean }) {
    try {
      const health = await this.monitor.check();
      const status = runtimeStatusOf(
        this.identity,
        this.host.appliedVersion,
        this.host.statuses(),
        health,
        this.monitor.checkedAt ?? new Date(),
      );
      msg.respond(JSON.stringify(status));
    } catch (err) {
      this.logger.warn('runtime-status request not answered', { error: errorText(err) });
    }
  }
}
