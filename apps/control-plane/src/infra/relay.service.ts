import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { NatsConnection, Subscription } from 'nats';
import { errorText } from '@plexus/common';
import {
  NatsRelaySink,
  nodeIdOfDocumentKey,
  nodeDocumentSubject,
  OversizedMessage,
  RELAY_WAKE,
} from '@plexus/bus';
import {
  Database,
  LeaderLease,
  LeaseFence,
  LeaseLost,
  Relay,
  RELAY_LEASE,
  StoredNodeDocument,
} from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { DependencyBreakers } from './dependency-breakers';
import { NATS, RELAY_DATABASE } from './injection-tokens';
import { storedDocumentOf } from './stored-document-message';
import { republishCurrentState, RepublishResult } from './republish';

/** Whose commit a document put by the fast path came from: this replica's, or a standby's. */
export type DirectPutOrigin = 'local' | 'standby';

/** What keeps a cache of documents this replica wrote: told of newer ones other replicas wrote. */
export interface PeerDocumentFollower {
  caches(nodeId: string): boolean;
  learn(stored: StoredNodeDocument): void;
}

/** Core NATS sees every put into the nodes bucket on these subjects (one per key). */
const BUCKET_SUBJECT_PREFIX = nodeDocumentSubject('');

/**
 * Runs the relay on whichever replica holds the relay lease (LeaderLease: a row in Postgres that
 * lapses LEADER_LEASE_MS after its holder stops renewing it). Every replica announces its commits
 * on RELAY_WAKE (core NATS, after commit: unlike pg_notify it adds nothing to the write
 * transaction), so the leader reads new events at once; an idle poll covers lost hints. A
 * standby's hint carries the node document it has just committed, so that the leader puts it into
 * the nodes bucket at once (the fast path, NatsRelaySink.putCommitted), as it does its own.
 *
 * The leader's work is fenced by its term: the relay's cursor moves only while the term is
 * current (in the same statement), and nothing is handed to NATS once the lease has lapsed on this
 * process's own clock, so a leader resumed after a freeze publishes nothing and moves nothing.
 */
@Injectable()
export class RelayService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Relay');
  private readonly relay: Relay;
  private readonly lease: LeaderLease;
  private readonly sink: NatsRelaySink;
  private wakeSubscription: Subscription | null = null;
  /** While this replica does not lead: every document put into the nodes bucket. */
  private bucketSubscription: Subscription | null = null;
  private follower: PeerDocumentFollower | null = null;
  private wakePending = false;
  /** A standby's documents committed since its last hint, for the leader's fast path. */
  private forwardedDocuments: StoredNodeDocument[] = [];
  /** Documents committed since the last putSoon flush, for the sink's fast path. */
  private committedDocuments: { stored: StoredNodeDocument; origin: DirectPutOrigin }[] = [];
  private readonly directPutListeners: ((origin: DirectPutOrigin) => void)[] = [];
  private readonly eventsReadListeners: (() => void)[] = [];
  private readonly publishedListeners: ((count: number, lagMs: number) => void)[] = [];
  private readonly oversizedListeners: ((message: OversizedMessage) => void)[] = [];
  /** Age of the oldest event of the last published batch (shown by /health). */
  lastLagMs = 0;

  constructor(
    @Inject(RELAY_DATABASE) private readonly relayDb: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    env: ControlPlaneEnv,
    private readonly breakers: DependencyBreakers,
  ) {
    this.sink = new NatsRelaySink(nc, {
      guard: () => this.assertLeader(),
      onOversized: (message) => this.oversized(message),
    });
    this.relay = new Relay(
      relayDb,
      {
        publish: (events, documents) => breakers.nats(() => this.sink.publish(events, documents)),
        documentsWanted: (latest) => {
          // Commits whose direct put is still queued (putSoon) hand it over first.
          this.putCommittedNow();
          return this.sink.documentsWanted(latest);
        },
      },
      {
        idlePollMs: env.RELAY_IDLE_POLL_MS,
        mayPublish: () => this.lease.isLeader,
        onError: (err) =>
          this.logger.warn(`relay publish failed, will retry: ${(err as Error).message}`),
        onPublished: (count, lagMs) => {
          this.lastLagMs = lagMs;
          this.publishedListeners.forEach((listener) => listener(count, lagMs));
        },
        onEventsRead: () => this.eventsReadListeners.forEach((listener) => listener()),
        onStoppedByLeaseLoss: (reason) => this.logger.warn(`relay stopped: ${reason}`),
      },
    );
    this.lease = new LeaderLease(env.DATABASE_URL, {
      name: RELAY_LEASE,
      leaseMs: env.LEADER_LEASE_MS,
      onAcquired: (fence) => {
        this.logger.log(
          `this replica leads (relay lease term ${fence.term}): relaying events to NATS`,
        );
        // What another leader wrote meanwhile is read again before each key's next put.
        this.sink.forgetRevisions();
        this.followBucket(false); // the leader puts every document itself
        this.relay.start(fence);
      },
      onLost: async (reason) => {
        this.logger.warn(`relay leadership lost (${reason}): relay stopped`);
        this.followBucket(true);
        await this.relay.stop();
      },
      onError: (err) => this.logger.debug?.(`relay lease: ${(err as Error).message}`),
    });
  }

  /** Called after each batch this replica's relay published: how many events, and the oldest one's age. */
  onPublished(listener: (count: number, lagMs: number) => void) {
    this.publishedListeners.push(listener);
  }

  /**
   * Called whenever this replica's relay reads new events from the log: after every commit of any
   * replica, whether or not NATS then takes them (a failed publish reads them again).
   */
  onEventsRead(listener: () => void) {
    this.eventsReadListeners.push(listener);
  }

  /** Called for each document the fast path stored, with whose commit it came from. */
  onDirectPut(listener: (origin: DirectPutOrigin) => void) {
    this.directPutListeners.push(listener);
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

  /** Whether this replica leads right now (its lease has not lapsed on its own clock). */
  get isLeader() {
    return this.lease.isLeader;
  }

  /** The leadership term to fence the leader's statements with; null when not leader. */
  get fence(): LeaseFence | null {
    return this.lease.fence;
  }

  /** This replica's leadership term, or null when it does not lead. */
  get term(): string | null {
    return this.lease.term;
  }

  private assertLeader() {
    const fence = this.lease.fence;
    if (!fence) throw new LeaseLost({ lease: RELAY_LEASE, term: 'lapsed' });
  }

  /**
   * Puts every node's current document and desired process count from Postgres into NATS
   * (leader only): see republishCurrentState.
   */
  async republishAll(): Promise<RepublishResult> {
    this.assertLeader();
    this.sink.forgetRevisions();
    return republishCurrentState(this.relayDb, this.sink);
  }

  /**
   * Called after every local commit. With the node's stored document, the leader also puts it
   * into the nodes bucket at once (NatsRelaySink.putCommitted) rather than after the relay has
   * read it back: the relay stays the ordered path that guarantees delivery. A standby sends the
   * document to the leader in its wake-up hint for the same put.
   */
  committed(stored?: StoredNodeDocument): void {
    if (stored && this.lease.isLeader) this.putSoon(stored, 'local');
    this.relay.wake();
    if (this.lease.isLeader) return; // the leader needs no hint from itself
    if (stored) this.forwardedDocuments.push(stored);
    if (this.wakePending) return;
    this.wakePending = true;
    queueMicrotask(() => this.sendHints());
  }

  /**
   * One hint per document committed since the last hints (one socket write carries them all), or
   * a bare one. A hint lost or refused costs only time: the relay reads the events and the
   * documents from Postgres.
   */
  private sendHints() {
    this.wakePending = false;
    const documents = this.forwardedDocuments;
    this.forwardedDocuments = [];
    if (this.nc.isClosed()) return;
    if (!documents.length) return this.nc.publish(RELAY_WAKE);
    for (const { document, json } of documents) {
      try {
        this.nc.publish(RELAY_WAKE, json ?? JSON.stringify(document));
      } catch (err) {
        // Larger than the server's max_payload, lowered since the write was checked: the bare
        // hint still wakes the relay, which puts the document itself (or reports it oversized).
        this.logger.warn(
          `relay hint without the document of ${document.nodeId}: ${errorText(err)}`,
        );
        this.nc.publish(RELAY_WAKE);
      }
    }
  }

  /**
   * A hint from another replica: wakes the relay. On the leader, a document in it goes to the fast
   * path and to the write cache. A standby leaves it unread (its own hints come back to it too):
   * it learns the document from the nodes bucket, where the leader puts it.
   */
  private hinted(data: Uint8Array) {
    if (data.length && this.lease.isLeader) {
      const stored = storedDocumentOf(data);
      if (!stored)
        this.logger.warn('a relay hint carried something other than a node document: ignored');
      else {
        this.putSoon(stored, 'standby');
        this.follower?.learn(stored);
      }
    }
    this.relay.wake();
  }

  /**
   * Keeps `follower` (the write path's document cache) current with what other replicas commit,
   * so that writes spread over replicas decide on the current document. The leader learns from
   * the standbys' hints; a standby follows the nodes bucket, where the leader puts every document
   * (the standbys' included).
   */
  followPeerDocuments(follower: PeerDocumentFollower) {
    this.follower = follower;
  }

  private followBucket(follow: boolean) {
    if (!follow || this.nc.isClosed()) {
      this.bucketSubscription?.unsubscribe();
      this.bucketSubscription = null;
      return;
    }
    if (this.bucketSubscription || !this.follower) return;
    const follower = this.follower;
    this.bucketSubscription = this.nc.subscribe(`${BUCKET_SUBJECT_PREFIX}>`, {
      callback: (_err, msg) => {
        // a delete marker has no body; a node this replica has not written is not cached
        const key = msg.subject.slice(BUCKET_SUBJECT_PREFIX.length);
        if (!msg.data.length || !follower.caches(nodeIdOfDocumentKey(key))) return;
        const stored = storedDocumentOf(msg.data);
        if (stored) follower.learn(stored);
      },
    });
  }

  /**
   * Hands the document to the sink's fast path in a microtask: it runs once every write of the
   * same group commit has been handed over (their continuations were queued first, so one socket
   * write carries them all), and before the writers' HTTP answers go out (those continue after
   * it). So the document is on its way to NATS before the writer hears that it committed: timed
   * from the answer, as a client sees it, the put no longer waits behind the answers, and on a
   * loaded host behind whatever the client does next (bench:propagation starts polling).
   */
  private putSoon(stored: StoredNodeDocument, origin: DirectPutOrigin) {
    if (this.committedDocuments.push({ stored, origin }) > 1) return;
    queueMicrotask(() => this.putCommittedNow());
  }

  /** Hands the queued documents to the fast path at once (none queued: nothing to do). */
  private putCommittedNow() {
    if (!this.committedDocuments.length) return;
    const committed = this.committedDocuments;
    this.committedDocuments = [];
    if (!this.lease.isLeader || this.breakers.isOpen('nats') || this.nc.isClosed()) return;
    void this.sink.putCommitted(committed.map((c) => c.stored)).then((stored) =>
      stored.forEach((ok, i) => {
        if (ok) this.directPutListeners.forEach((listener) => listener(committed[i].origin));
      }),
    );
  }

  onApplicationBootstrap() {
    this.wakeSubscription = this.nc.subscribe(RELAY_WAKE, {
      callback: (_err, msg) => this.hinted(msg.data),
    });
    this.followBucket(true); // until this replica leads
    this.lease.start();
  }

  async onModuleDestroy() {
    this.wakeSubscription?.unsubscribe();
    await this.lease.stop();
    this.followBucket(false); // after the lease: losing it follows the bucket again
  }
}
