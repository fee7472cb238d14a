import { randomUUID } from 'node:crypto';
import {
  decide,
  emptyNode,
  evolveAll,
  ModuleTypeCatalog,
  NodeCommand,
  NodeDocument,
  NodeEvent,
  redactEvent,
} from '@plexus/domain';
import { appendToStream, StreamVersionConflict } from './appendToStream';
import { Database, Sql } from './database';
import { readNodeDocument } from './node-documents';
import { EventMetadata, NewEvent } from './stored-event';

/** If-Match named a version the node is no longer (or not yet) at. */
export class PreconditionFailed extends Error {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`If-Match names version ${expected} but the node is at version ${actual}`);
  }
}

export interface CommandContext extends EventMetadata {
  /** From If-Match: refuse the write unless the node is at this version. */
  expectedVersion?: number;
}

export interface CommandResult {
  document: NodeDocument;
  /** How many events the command appended (0: it changed nothing). */
  appended: number;
  eventTypes: string[];
}

const MAX_ATTEMPTS = 5;

/** Secrets go to the stored-only column; the payload others may see is redacted. */
export function toNewEvent(
  event: NodeEvent,
  catalog: ModuleTypeCatalog,
  metadata: EventMetadata,
): NewEvent {
  const redacted = redactEvent(event, catalog);
  const hasSecrets = JSON.stringify(redacted.data) !== JSON.stringify(event.data);
  return {
    eventId: randomUUID(),
    type: event.type,
    data: redacted.data as Record<string, unknown>,
    secretData: hasSecrets ? (event.data as Record<string, unknown>) : undefined,
    metadata,
  };
}

/**
 * Runs a command against a node: read the document, decide, then append the events and save the
 * new document atomically.
 *
 * The first attempt is optimistic: a plain read, then one statement that appends and saves (two
 * round trips; the unique (stream, version) key catches a concurrent writer). If another writer
 * won, a write with If-Match gets PreconditionFailed; one without takes the locked path: a
 * transaction that locks the node's row, so that under contention every writer gets its turn
 * instead of retrying forever.
 */
export class NodeCommandHandler {
  constructor(
    private readonly db: Database,
    private readonly catalog: ModuleTypeCatalog,
    private readonly onCommitted: () => void = () => undefined,
  ) {}

  async handle(nodeId: string, command: NodeCommand, ctx: CommandContext): Promise<CommandResult> {
    let result: CommandResult | null = null;
    try {
      result = await this.attempt(this.db, nodeId, command, ctx, false);
    } catch (err) {
      if (!(err instanceof StreamVersionConflict)) throw err;
      if (ctx.expectedVersion !== undefined)
        throw new PreconditionFailed(ctx.expectedVersion, ctx.expectedVersion + 1);
    }
    // Two creations of the same new node race on the unique key even when locking (no row yet).
    for (let attempt = 1; !result; attempt++) {
      try {
        result = await this.db.transaction((sql) => this.attempt(sql, nodeId, command, ctx, true));
      } catch (err) {
        if (!(err instanceof StreamVersionConflict) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
    if (result.appended) this.onCommitted();
    return result;
  }

  private async attempt(
    sql: Sql,
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    lock: boolean,
  ): Promise<CommandResult> {
    const { expectedVersion, ...metadata } = ctx;
    const current = await readNodeDocument(sql, nodeId, { forUpdate: lock });
    const version = current?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== version)
      throw new PreconditionFailed(expectedVersion, version);
    const events = decide(current, nodeId, command, this.catalog);
    if (!events.length)
      return { document: current ?? emptyNode(nodeId), appended: 0, eventTypes: [] };
    const next = evolveAll(current ?? emptyNode(nodeId), events);
    const stored = events.map((e) => toNewEvent(e, this.catalog, metadata));
    await appendToStream(sql, nodeId, nodeId, version, stored, next);
    return { document: next, appended: events.length, eventTypes: events.map((e) => e.type) };
  }
}
