import { BadRequestException, Inject, Injectable, Logger } from '@nestjs/common';
import { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { invalid, notFound } from '@plexus/domain';
import {
  Database,
  EventListCursor,
  EventPage,
  queryEvents,
  readEvent,
  StoredEvent,
} from '@plexus/event-store';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { DATABASE } from '../infra/injection-tokens';
import { encodeCursor, EventsQuery } from './events-query';

/** Rows per query of an ndjson export: about 0.5 MB of JSON, a few ms of Postgres. */
export const EXPORT_BATCH = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The audit log: who changed what, when and why. Answers never hold a secret in clear. */
@Injectable()
export class EventsService {
  private readonly logger = new Logger('Events');

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly breakers: DependencyBreakers,
  ) {}

  private async page(query: EventsQuery, after: EventListCursor | undefined, limit: number) {
    try {
      return await this.breakers.postgres(() =>
        queryEvents(this.db, query.filter, { after, limit }),
      );
    } catch (err) {
      // A cursor that passed the syntax check but that Postgres still refuses as a pg_snapshot.
      const code = (err as { code?: string }).code;
      if (after && (code === '22P02' || code === '22003'))
        throw new BadRequestException('after must be the `next` cursor of a previous answer');
      throw err;
    }
  }

  async list(query: EventsQuery): Promise<{ events: StoredEvent[]; next: string | null }> {
    const page = await this.page(query, query.after, query.limit);
    return {
      events: page.events,
      next: page.next ? encodeCursor(page.next, query.filter) : null,
    };
  }

  async get(eventId: string): Promise<StoredEvent> {
    if (!UUID.test(eventId)) throw invalid(`id must be an event ID (a UUID), got ${eventId}`);
    const event = await this.breakers.postgres(() => readEvent(this.db, eventId));
    if (!event) throw notFound(`event ${eventId} does not exist`);
    return event;
  }

  /**
   * Streams every matching event, newest first, one JSON object per line. Reads keyset batches of
   * EXPORT_BATCH within the snapshot of the first one (the same consistency as paging), so no
   * connection or transaction is held between batches however slowly the client reads, and
   * memory holds one batch. Waits for 'drain' when the socket is full (backpressure) and stops
   * reading when the client goes away. The first batch is read before the headers go out, so a
   * failure there is still an ordinary JSON error; a later one aborts the response, so that a
   * client sees a truncated transfer rather than a complete-looking export.
   */
  async export(query: EventsQuery, reply: FastifyReply): Promise<void> {
    const res = reply.raw;
    let gone = false;
    const onClose = () => (gone = true);
    res.on('close', onClose);
    res.on('error', onClose); // a write to a connection that just went away
    try {
      let page: EventPage = await this.page(query, query.after, EXPORT_BATCH);
      if (gone) return;
      reply.hijack(); // from here on the answer is written to the socket directly
      res.writeHead(200, {
        'Content-Type': 'application/x-ndjson; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      let sent = 0;
      try {
        for (;;) {
          if (gone) break;
          const chunk = page.events.map((e) => `${JSON.stringify(e)}\n`).join('');
          sent += page.events.length;
          if (chunk && !res.write(chunk)) await drained(res, () => gone);
          if (gone || !page.next) break;
          page = await this.page(query, page.next, EXPORT_BATCH);
        }
        if (gone) this.logger.debug(`export ended by the client after ${sent} events`);
        else res.end();
      } catch (err) {
        this.logger.warn(`export aborted after ${sent} events: ${(err as Error).message}`);
        res.destroy(err as Error);
      }
    } finally {
      res.off('close', onClose);
    }
  }
}

/** Resolves once the response can take more data, or once it is closed. */
function drained(res: ServerResponse, gone: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (gone() || res.destroyed) return resolve();
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
