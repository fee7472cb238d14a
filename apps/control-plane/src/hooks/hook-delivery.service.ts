import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { Counter } from 'prom-client';
import { retryDelayMs } from '@plexus/domain';
import {
  Database,
  dispatchHookDeliveries,
  DueHookDelivery,
  HOOK_DISPATCH_CHECKPOINT,
  LeaseFence,
  listHookQueues,
  readHookQueueHead,
  recordHookAttempt,
  recordHookDeliveryHeldBack,
} from '@plexus/event-store';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { ControlPlaneEnv } from '../env';
import { DATABASE, SECRETS } from '../infra/injection-tokens';
import { RelayService } from '../infra/relay.service';
import { MetricsService } from '../metrics/metrics.service';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signDelivery } from './hook-signature';
import { AttemptResult, WebhookPoster } from './webhook-poster';
import { parseWebhookTargetPolicy } from './targets';

/** Events read from the log per dispatch transaction. */
const DISPATCH_BATCH = 500;

/**
 * With no new events read and no delivery pending, a poll does nothing but every this many
 * polls (10 s at the default 250 ms): a safety net should a signal be missed.
 */
const IDLE_POLLS_BETWEEN_CHECKS = 40;

/** A failed attempt, thrown inside the breaker so that it counts against the hook's target. */
class AttemptFailed extends Error {
  constructor(readonly result: AttemptResult) {
    super(result.error ?? result.outcome);
  }
}

/**
 * Delivers webhooks, on the replica that holds the relay lease only (so one replica sends at a
 * time; another takes over with the lease, from what is stored). Every state change is fenced by
 * the leadership term it was started under (in the same SQL statement), and no request is sent
 * once the lease has lapsed on this process's clock, so an ex-leader resumed after a freeze
 * neither posts nor records anything.
 *
 * Every WEBHOOK_POLL_MS it dispatches new events of the log into per-hook delivery queues
 * (dispatchHookDeliveries), then drains every hook whose oldest pending delivery is due, oldest first: a delivery that fails
 * waits for its retry (exponential backoff, full jitter) and the hook's later ones wait behind it.
 * A poll reads Postgres only when there can be something to do: the relay (on this same replica)
 * read new events from the log since the last dispatch (whether or not NATS took them: webhooks
 * do not need NATS), deliveries are pending, or the term is new; an idle control plane otherwise
 * made five round trips to Postgres every 250 ms for nothing.
 *
 * Each hook has an opossum breaker: after repeated failures it opens, and no attempt is made
 * until it lets one trial through; the backlog then drains when the target answers again.
 * Delivery is at least once: a crash between a receiver's 2xx and recording it sends the delivery
 * again, with the same X-Plexus-Delivery ID, which receivers use to drop the repeat.
 */
@Injectable()
export class HookDeliveryService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  private timer: NodeJS.Timeout | null = null;
  private tickRunning: Promise<void> | null = null;
  private stopped = false;
  private readonly draining = new Map<string, Promise<void>>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly counts: Record<string, number> = {};
  private readonly outcomes: Counter;
  private readonly poster: WebhookPoster;
  /** The relay read new events from the log since the last dispatch began. */
  private newEvents = true;
  /** The last listing of queues had deliveries waiting. */
  private deliveriesPending = true;
  /** The term of the last dispatch: a takeover dispatches what the old leader left. */
  private dispatchedTerm: string | null = null;
  private idlePolls = 0;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(SECRETS) private readonly secrets: SecretsCipher,
    private readonly relay: RelayService,
    private readonly env: ControlPlaneEnv,
    metrics: MetricsService,
  ) {
    this.poster = new WebhookPoster(parseWebhookTargetPolicy(env.WEBHOOK_ALLOWED_HOSTS));
    relay.onEventsRead(() => (this.newEvents = true));
    this.outcomes = metrics.register(
      new Counter({
        name: 'plexus_webhook_deliveries_total',
        help: 'Webhook delivery attempts by outcome (succeeded, http-error, timeout, connection-error, target-refused, breaker-open), and deliveries given up (failed)',
        labelNames: ['outcome'],
        registers: [],
      }),
    );
  }

  onApplicationBootstrap() {
    this.timer = setInterval(() => {
      this.tickRunning ??= this.tick().finally(() => (this.tickRunning = null));
    }, this.env.WEBHOOK_POLL_MS);
  }

  async onModuleDestroy() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // An attempt in flight ends within WEBHOOK_TIMEOUT_MS and is recorded before the pool closes.
    await this.tickRunning;
    await Promise.all(this.draining.values());
    this.breakers.forEach((b) => b.shutdown());
    this.poster.close();
  }

  /**
   * How many attempts ended how since this replica started (`succeeded`, `http-error`,
   * `timeout`, `connection-error`, `target-refused`), how often a breaker held a delivery back (`breaker-open`)
   * and how many deliveries were given up (`failed`).
   */
  outcomeCounts(): Record<string, number> {
    return { ...this.counts };
  }

  private count(key: string) {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    this.outcomes.inc({ outcome: key });
  }

  /** Whether `fence` is still this replica's current, locally valid term. */
  private stillLeads(fence: LeaseFence) {
    return !this.stopped && this.relay.fence?.term === fence.term;
  }

  /** Whether this poll may skip Postgres: no new events, nothing pending, same term. */
  private idle(fence: LeaseFence): boolean {
    const quiet = !this.newEvents && !this.deliveriesPending && this.dispatchedTerm === fence.term;
    if (quiet && ++this.idlePolls < IDLE_POLLS_BETWEEN_CHECKS) return true;
    this.idlePolls = 0;
    return false;
  }

  private async tick(): Promise<void> {
    const fence = this.relay.fence;
    if (this.stopped || !fence || this.idle(fence)) return;
    this.newEvents = false; // events read from now on mean another dispatch
    this.dispatchedTerm = fence.term;
    try {
      while (this.stillLeads(fence)) {
        const { read } = await dispatchHookDeliveries(
          this.db,
          DISPATCH_BATCH,
          HOOK_DISPATCH_CHECKPOINT,
          fence,
        );
        if (read < DISPATCH_BATCH) break;
      }
      const now = Date.now();
      const queues = await listHookQueues(this.db);
      this.deliveriesPending = queues.length > 0;
      this.forgetIdleBreakers(new Set(queues.map((q) => q.hookId)));
      for (const queue of queues) {
        if (!this.stillLeads(fence) || this.draining.has(queue.hookId)) continue;
        if (queue.nextAttemptAt.getTime() > now) continue;
        const drain = this.drain(queue.hookId, fence)
          .catch((err) =>
            this.logger.warn(`webhook ${queue.hookId}: delivery failed: ${(err as Error).message}`),
          )
          .finally(() => this.draining.delete(queue.hookId));
        this.draining.set(queue.hookId, drain);
      }
    } catch (err) {
      this.newEvents = true; // not dispatched: try again at the next poll
      this.logger.warn(`webhook dispatch failed, will retry: ${(err as Error).message}`);
    }
  }

  /** Sends a hook's due deliveries one after the other, oldest first, until one fails. */
  private async drain(hookId: string, fence: LeaseFence): Promise<void> {
    while (this.stillLeads(fence)) {
      const head = await readHookQueueHead(this.db, hookId);
      if (!head || head.nextAttemptAt.getTime() > Date.now()) return;
      const breaker = this.breakerFor(hookId);
      if (breaker.opened) {
        await this.holdBack(head, fence);
        return;
      }
      if (!(await this.attempt(head, breaker, fence))) return;
    }
  }

  private async holdBack(head: DueHookDelivery, fence: LeaseFence) {
    if (head.lastOutcome === 'breaker-open') return;
    const recorded = await recordHookDeliveryHeldBack(
      this.db,
      head.deliveryId,
      {
        at: new Date().toISOString(),
        outcome: 'breaker-open',
        error: 'the breaker of this hook is open: no attempt made',
      },
      fence,
    );
    if (recorded) this.count('breaker-open');
  }

  /** One attempt at the head of a hook's queue; returns whether it succeeded. */
  private async attempt(
    head: DueHookDelivery,
    breaker: CircuitBreaker,
    fence: LeaseFence,
  ): Promise<boolean> {
    const attempt = head.attempts + 1;
    // Signed over these exact bytes, which are what is sent.
    const body = JSON.stringify({
      deliveryId: head.deliveryId,
      hookId: head.hookId,
      event: head.event,
    });
    const headers = {
      [DELIVERY_HEADER]: head.deliveryId,
      [EVENT_HEADER]: head.event.type,
      [SIGNATURE_HEADER]: signDelivery(this.secrets.decrypt(head.secret), body),
      'X-Plexus-Attempt': String(attempt),
    };
    // Checked at the last moment, on the local clock: nothing is sent after a freeze that ended
    // this replica's term.
    if (!this.stillLeads(fence)) return false;
    const at = new Date();
    let result: AttemptResult;
    try {
      result = (await breaker.fire(() =>
        this.poster.post(head.url, body, headers, this.env.WEBHOOK_TIMEOUT_MS),
      )) as AttemptResult;
    } catch (err) {
      if (!(err instanceof AttemptFailed)) {
        // Rejected without an attempt (the breaker opened meanwhile): wait like an open breaker.
        if ((err as { code?: string }).code === 'EOPENBREAKER') await this.holdBack(head, fence);
        else throw err;
        return false;
      }
      result = err.result;
    }
    const lastTry = attempt >= this.env.WEBHOOK_MAX_ATTEMPTS;
    const retryInMs =
      result.ok || lastTry
        ? undefined
        : retryDelayMs(attempt, {
            baseMs: this.env.WEBHOOK_RETRY_BASE_MS,
            capMs: this.env.WEBHOOK_RETRY_CAP_MS,
          });
    const status = result.ok ? 'succeeded' : lastTry ? 'failed' : 'pending';
    const { ok: _ok, ...outcome } = result;
    const recorded = await recordHookAttempt(
      this.db,
      head.deliveryId,
      head.attempts,
      {
        status,
        nextAttemptAt: retryInMs === undefined ? null : new Date(Date.now() + retryInMs),
        outcome: { at: at.toISOString(), attempt, ...outcome, retryInMs },
      },
      fence,
    );
    // Another replica recorded this attempt (it owns the queue now), or our term is over.
    if (!recorded) return false;
    this.count(result.outcome);
    if (status === 'failed') {
      this.count('failed');
      this.logger.warn(
        `webhook ${head.hookId}: delivery ${head.deliveryId} of ${head.event.type} given up after ${attempt} attempts (${result.error})`,
      );
    }
    return result.ok;
  }

  /** A closed breaker of a hook with nothing to send (or deleted) holds nothing worth keeping. */
  private forgetIdleBreakers(busy: Set<string>) {
    for (const [hookId, breaker] of this.breakers)
      if (!busy.has(hookId) && !this.draining.has(hookId) && breaker.closed) {
        breaker.shutdown();
        this.breakers.delete(hookId);
      }
  }

  private breakerFor(hookId: string): CircuitBreaker {
    let breaker = this.breakers.get(hookId);
    if (!breaker) {
      breaker = new CircuitBreaker(
        async (send: () => Promise<AttemptResult>) => {
          const result = await send();
          if (!result.ok) throw new AttemptFailed(result);
          return result;
        },
        {
          name: `webhook-${hookId}`,
          timeout: false, // each attempt aborts itself after WEBHOOK_TIMEOUT_MS
          errorThresholdPercentage: 50,
          volumeThreshold: 3,
          resetTimeout: this.env.WEBHOOK_BREAKER_RESET_MS,
        },
      );
      breaker.on('open', () =>
        this.logger.warn(`webhook ${hookId}: target failing, breaker open: deliveries wait`),
      );
      breaker.on('close', () =>
        this.logger.log(`webhook ${hookId}: target answers again, breaker closed`),
      );
      this.breakers.set(hookId, breaker);
    }
    return breaker;
  }
}
