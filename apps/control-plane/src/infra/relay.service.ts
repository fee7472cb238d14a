import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { NatsConnection, Subscription } from 'nats';
import { NatsRelaySink, OversizedMessage, RELAY_WAKE } from '@plexus/bus';
import { Database, LeaderLock, Relay, RELAY_LOCK_KEY } from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { DependencyBreakers } from './dependency-breakers';
import { NATS, RELAY_DATABASE } from './injection-tokens';

/**
 * Runs the relay on whichever replica holds the Postgres advisory lock. Every replica announces
 * its commits on RELAY_WAKE (core NATS, after commit: unlike pg_notify it adds nothing to the
 * write transaction), so the leader reads new events at once; an idle poll covers lost hints.
 */
@Injectable()
export class RelayService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Relay');
  private readonly relay: Relay;
  private readonly lock: LeaderLock;
  private wakeSubscription: Subscription | null = null;
  private wakePending = false;
  private readonly publishedListeners: ((count: number, lagMs: number) => void)[] = [];
  private readonly oversizedListeners: ((message: OversizedMessage) => void)[] = [];
  /** Age of the oldest event of the last published batch (shown by /health). */
  lastLagMs = 0;

  constructor(
    @Inject(RELAY_DATABASE) relayDb: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    env: ControlPlaneEnv,
    breakers: DependencyBreakers,
  ) {
    const sink = new NatsRelaySink(nc, undefined, (message) => this.oversized(message));
    this.relay = new Relay(
      relayDb,
      { publish: (events, documents) => breakers.nats(() => sink.publish(events, documents)) },
      {
        idlePollMs: env.RELAY_IDLE_POLL_MS,
        onError: (err) =>
          this.logger.warn(`relay publish failed, will retry: ${(err as Error).message}`),
        onPublished: (count, lagMs) => {
          this.lastLagMs = lagMs;
          this.publishedListeners.forEach((listener) => listener(count, lagMs));
        },
      },
    );
    this.lock = new LeaderLock(env.DATABASE_URL, RELAY_LOCK_KEY, {
      onAcquired: () => {
        this.logger.log('this replica holds the relay lock: relaying events to NATS');
        this.relay.start();
      },
      onLost: async () => {
        this.logger.warn('relay lock lost: relay stopped');
        await this.relay.stop();
      },
      onError: (err) => this.logger.debug?.(`relay lock: ${(err as Error).message}`),
    });
  }

  /** Called after each batch this replica's relay published: how many events, and the oldest one's age. */
  onPublished(listener: (count: number, lagMs: number) => void) {
    this.publishedListeners.push(listener);
  }

  /** Called for each event published as a stub, and each node document not put: too large. */
  onOversized(listener: (message: OversizedMessage) => void) {
    this.oversizedListeners.push(listener);
  }

  private oversized(message: OversizedMessage) {
    const { kind, nodeId, eventId, type, bytes, maxPayload } = message;
    if (kind === 'event')
      this.logger.error(
        `event ${eventId} (${type} of node ${nodeId}) is ${bytes} bytes, more than the NATS server's max_payload of ${maxPayload}: published as a stub with truncated: true; read it from GET /events/${eventId}`,
      );
    else
      this.logger.error(
        `the document of node ${nodeId} is ${bytes} bytes, more than the NATS server's max_payload of ${maxPayload}: not put; its processes keep their last document`,
      );
    this.oversizedListeners.forEach((listener) => listener(message));
  }

  get isLeader() {
    return this.lock.isLeader;
  }

  /** Called after every local commit. */
  committed(): void {
    this.relay.wake();
    if (this.lock.isLeader || this.wakePending) return; // the leader needs no hint from itself
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      if (!this.nc.isClosed()) this.nc.publish(RELAY_WAKE);
    });
  }

  onApplicationBootstrap() {
    this.wakeSubscription = this.nc.subscribe(RELAY_WAKE, { callback: () => this.relay.wake() });
    this.lock.start();
  }

  async onModuleDestroy() {
    this.wakeSubscription?.unsubscribe();
    await this.lock.stop();
  }
}
