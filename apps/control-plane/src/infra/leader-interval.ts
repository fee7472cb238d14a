import { RelayService } from './relay.service';

/**
 * Runs `task` every `everyMs` on the replica that holds the relay lease (the failure detector,
 * the autoscaler): one run at a time, a tick that finds the previous run still going is skipped.
 * The task handles its own errors; stop() waits for a run in flight.
 */
export class LeaderInterval {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly relay: RelayService,
    private readonly everyMs: number,
    private readonly task: () => Promise<void>,
  ) {}

  start() {
    this.timer = setInterval(() => {
      if (!this.relay.isLeader || this.running) return;
      this.running = this.task()
        .catch(() => undefined)
        .finally(() => (this.running = null));
    }, this.everyMs);
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
