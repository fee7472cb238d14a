import { BadRequestException, Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ConsumerMessages, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { EVENTS_STREAM, eventsFilter } from '@plexus/bus';
import { RecordedEvent } from '@plexus/domain';
import { Database, LogCursor, logCursorAt, readEvent, readEventsAfter } from '@plexus/event-store';
import { ControlPlaneEnv } from '../env';
import { EventSelectors } from '../events/events-query';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE, NATS } from '../infra/injection-tokens';
import { WatchQuery } from './watch-query';
import { WatchSession } from './watch-session';

/** Events per Postgres read of a replay. */
export const REPLAY_BATCH = 500;

/** Names of the watch's JetStream consumers start with this, so that they can be told apart. */
export const WATCH_CONSUMER_PREFIX = 'plexus_watch_';

/**
 * GET /watch: Server-Sent Events, fed from the NATS events stream. Each client gets its own
 * ordered (ephemeral, unacknowledged) consumer, filtered by subject as narrowly as its filters
 * allow, so that no client's pace touches another's. A resumed client first gets from Postgres
 * what came after its last event, in the relay's order, then the consumer's events.
 *
 * No gap at the switch: the consumer starts just after the stream's last message at the moment
 * of connecting, and everything published before that was committed and relayed before the
 * replay reads, so the replay sees it. What both deliver is sent once (WatchSession).
 */
@Injectable()
export class WatchService implements OnModuleDestroy {
  private readonly logger = new Logger('Watch');
  private readonly sessions = new Set<WatchSession>();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(NATS) private readonly nc: NatsConnection,
    private readonly breakers: DependencyBreakers,
    private readonly env: ControlPlaneEnv,
  ) {}

  /** Open watch streams on this replica. */
  get openSessions(): number {
    return this.sessions.size;
  }

  async open(query: WatchQuery, reply: FastifyReply): Promise<void> {
    // Everything that can fail with an ordinary JSON error happens before the headers go out.
    const from = query.after === undefined ? undefined : await this.cursorAt(query.after);
    const res = reply.raw;
    let gone = false;
    const onGone = () => (gone = true);
    res.on('close', onGone);
    const { consumer, messages, received } = await this.subscribe(query.selectors);
    res.off('close', onGone);
    const stop = () => {
      messages.close().catch(() => undefined);
      consumer.delete().catch(() => undefined);
    };
    if (gone) return stop();

    reply.hijack(); // from here on the answer is written to the socket directly
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: pass each message on at once
    });
    res.flushHeaders();
    const session: WatchSession = new WatchSession(
      res,
      query.selectors,
      {
        maxEvents: this.env.WATCH_BUFFER_MAX_EVENTS,
        maxBytes: this.env.WATCH_BUFFER_MAX_BYTES,
        keepAliveMs: this.env.WATCH_KEEPALIVE_MS,
        readWhole: (eventId) => this.breakers.postgres(() => readEvent(this.db, eventId)),
        onClose: () => {
          this.sessions.delete(session);
          stop();
        },
      },
      from !== undefined,
    );
    this.sessions.add(session);
    received.to(session);
    void messages.closed().then((err) => {
      if (err && !session.isClosed)
        session.end(
          `the events stream ended: ${err.message}; reconnect with Last-Event-ID to resume`,
        );
    });
    if (from) await this.replay(session, from);
  }

  private async cursorAt(position: string): Promise<LogCursor> {
    const cursor = await this.breakers.postgres(() => logCursorAt(this.db, position));
    if (!cursor)
      throw new BadRequestException(
        `after (or Last-Event-ID) must be the position of an event (the id: of a message) or 0; no event has position ${position}`,
      );
    return cursor;
  }

  /**
   * An ordered consumer of the events stream starting after its current last message. Messages
   * that arrive before the session exists wait in `received`.
   */
  private async subscribe(selectors: EventSelectors) {
    const types = selectors.types?.length === 1 ? selectors.types[0] : undefined;
    const received = new Handoff();
    return this.breakers.nats(async () => {
      const jsm = await this.nc.jetstreamManager();
      const { state } = await jsm.streams.info(EVENTS_STREAM);
      const consumer = await this.nc.jetstream().consumers.get(EVENTS_STREAM, {
        name_prefix: WATCH_CONSUMER_PREFIX,
        filterSubjects: eventsFilter(selectors.nodeId, types),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: state.last_seq + 1,
      });
      const messages: ConsumerMessages = await consumer.consume({
        max_messages: 100,
        callback: (m) => received.push(m),
      });
      return { consumer, messages, received };
    });
  }

  private async replay(session: WatchSession, from: LogCursor) {
    let cursor = from;
    try {
      while (!session.isClosed) {
        const batch = await this.breakers.postgres(() =>
          readEventsAfter(this.db, cursor, REPLAY_BATCH),
        );
        if (!batch.events.length) break;
        for (const event of batch.events) await session.replay(event);
        cursor = batch.cursor;
      }
      session.replayDone();
    } catch (err) {
      this.logger.warn(`watch replay failed: ${(err as Error).message}`);
      session.end(
        `could not read the events after position ${from.position}: ${(err as Error).message}; reconnect with Last-Event-ID to resume`,
      );
    }
  }

  onModuleDestroy() {
    for (const session of [...this.sessions]) session.end('the control plane is shutting down');
  }
}

/** Holds messages until the session they are for exists, then hands each on as it comes. */
class Handoff {
  private held: JsMsg[] = [];
  private session: WatchSession | null = null;

  push(m: JsMsg) {
    if (this.session) this.deliver(m);
    else this.held.push(m);
  }

  to(session: WatchSession) {
    this.session = session;
    const held = this.held;
    this.held = [];
    held.forEach((m) => this.deliver(m));
  }

  private deliver(m: JsMsg) {
    let event: RecordedEvent;
    try {
      event = m.json<RecordedEvent>();
    } catch {
      return; // not an event: nothing a watcher could use
    }
    this.session!.live(event);
  }
}
