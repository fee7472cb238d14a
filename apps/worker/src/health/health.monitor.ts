import type { ModuleHealthReport } from '@plexus/domain';
import type { ModuleHost, ModuleLogger } from '@plexus/module-runtime';
import { errorText } from '@plexus/common';
import { changedHealth, smallHealth } from './module-health-report';

export interface HealthMonitorOptions {
  host: Pick<ModuleHost, 'health'>;
  /** How often every module's health is checked. */
  everyMs: number;
  logger: ModuleLogger;
  /** Called after a check in which a module's health status changed (the modules named). */
  onChange: (moduleIds: string[]) => void;
}

/**
 * Checks every module's health on this process periodically (ModuleHost.health, each module
 * bounded to a second) and keeps the latest result for heartbeats, the runtime-status answer and
 * the management port. A check asked for between two periodic ones (check()) shares a running
 * one rather than starting another.
 */
export class HealthMonitor {
  private current: Record<string, ModuleHealthReport> = {};
  private running: Promise<Record<string, ModuleHealthReport>> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checked: Date | null = null;

  constructor(private readonly options: HealthMonitorOptions) {}

  /** The latest health of every module that has one (empty before the first check). */
  get latest(): Readonly<Record<string, ModuleHealthReport>> {
    return this.current;
  }

  /** When the latest check finished. */
  get checkedAt(): Date | null {
    return this.checked;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.everyMs);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Checks every module now (or joins the check under way); resolves with the result. */
  check(): Promise<Record<string, ModuleHealthReport>> {
    this.running ??= this.checkNow().finally(() => (this.running = null));
    return this.running;
  }

  private async checkNow(): Promise<Record<string, ModuleHealthReport>> {
    let next: Record<string, ModuleHealthReport>;
    try {
      const raw = await this.options.host.health();
      next = Object.fromEntries(Object.entries(raw).map(([id, h]) => [id, smallHealth(h)]));
    } catch (err) {
      this.options.logger.error('health check failed', { error: errorText(err) });
      return this.current;
    }
    const changed = changedHealth(this.current, next);
    this.current = next;
    this.checked = new Date();
    if (changed.length) {
      for (const id of changed) {
        const fields = { moduleId: id, health: next[id] ?? null };
        if (next[id]?.status === 'DOWN') this.options.logger.warn('module health changed', fields);
        else this.options.logger.log('module health changed', fields);
      }
      try {
        this.options.onChange(changed);
      } catch (err) {
        this.options.logger.error('health change callback failed', { error: errorText(err) });
      }
    }
    return next;
  }
}
