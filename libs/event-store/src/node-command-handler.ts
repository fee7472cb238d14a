import { randomUUID } from 'node:crypto';
import {
  conflict,
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
import { Database } from './database';
import { readNodeDocument, saveNodeDocument } from './node-documents';
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
export function toNewEvent(event: NodeEvent, catalog: ModuleTypeCatalog, metadata: EventMetadata): NewEvent {
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
 * Runs a command against a node in one transaction: lock and read the document, decide, append
 * the events and save the new document. Writes to one node serialise on the row lock, so without
 * If-Match every writer gets its turn; with it, a writer that finds another version gets
 * PreconditionFailed. Two creations of the same new node race on the unique (stream, version)
 * key instead, and the loser retries.
 */
export class NodeCommandHandler {
  constructor(
    private readonly db: Database,
    private readonly catalog: ModuleTypeCatalog,
    private readonly onCommitted: () => void = () => undefined,
  ) {}

  async handle(nodeId: string, command: NodeCommand, ctx: CommandContext): Promise<CommandResult> {
    const { expectedVersion, ...metadata } = ctx;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.db.transaction(async (sql): Promise<CommandResult> => {
          const current = await readNodeDocument(sql, nodeId, { forUpdate: true });
          const version = current?.version ?? 0;
          if (expectedVersion !== undefined && expectedVersion !== version)
            throw new PreconditionFailed(expectedVersion, version);
          const events = decide(current, nodeId, command, this.catalog);
          if (!events.length) return { document: current ?? emptyNode(nodeId), appended: 0, eventTypes: [] };
          const next = evolveAll(current ?? emptyNode(nodeId), events);
          const stored = events.map((e) => toNewEvent(e, this.catalog, metadata));
          await appendToStream(sql, nodeId, nodeId, version, stored);
          await saveNodeDocument(sql, next);
          return { document: next, appended: events.length, eventTypes: events.map((e) => e.type) };
        });
        if (result.appended) this.onCommitted();
        return result;
      } catch (err) {
        if (!(err instanceof StreamVersionConflict)) throw err;
        if (expectedVersion !== undefined) throw new PreconditionFailed(expectedVersion, expectedVersion + 1);
        if (attempt >= MAX_ATTEMPTS) throw conflict(`node "${nodeId}" is being changed concurrently; try again`);
      }
    }
  }
}
