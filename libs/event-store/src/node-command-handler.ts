import {
  changesPersistenceModules,
  decide,
  emptyNode,
  evolveAll,
  ModuleTypeCatalog,
  NodeCommand,
  NodeDocument,
} from '@plexus/domain';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { appendNodeWrite, appendNodeWrites, NodeWrite } from './appendNodeWrites';
import { StreamVersionConflict } from './appendToStream';
import { limitedNodeWrite, NO_WRITE_LIMITS, WriteLimits } from './bus-size';
import { Database, Sql } from './database';
import { GroupCommit, GroupCommitOptions } from './group-commit';
import { readNodeDocument } from './node-documents';
import { lockNodeDocument } from './node-locks';
import { guardPersistenceDatabases } from './persistence-guard';
import { openDocument, sealNodeWrite } from './secrets-at-rest';
import { EventMetadata } from './stored-event';

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

/** The cached document cannot be trusted for this command's outcome: read the stored one. */
class StaleCache extends Error {}

/**
 * Runs a command against a node: read the document, decide, then append the events and save the
 * new document atomically.
 *
 * The first attempt is optimistic: a plain read (or the cached document), then one statement
 * that appends and saves, shared with other nodes' writes under load (group commit); the version
 * check in that statement and the unique (stream, version) key catch a concurrent writer. If another writer
 * won, a write with If-Match gets PreconditionFailed; one without takes the locked path: a
 * transaction that locks the node's row, so that under contention every writer gets its turn
 * instead of retrying forever.
 */
export class NodeCommandHandler {
  /**
   * The documents this replica last wrote, secrets in clear. A write may decide on its cached document: the write
   * statement still checks the version under the row lock, so a stale entry only costs a retry
   * with a fresh read (as does any outcome other than "events to append").
   */
  private readonly recent = new Map<string, NodeDocument>();

  /**
   * The stored (sealed) form of the documents in clear this replica holds: sealing the next
   * version keeps the ciphertexts of the secrets that did not change, so a write only encrypts
   * what it changes.
   */
  private readonly sealed = new WeakMap<NodeDocument, NodeDocument>();

  /** Optimistic writes of different nodes share statements and commits under load. */
  private readonly groupCommit: GroupCommit<NodeWrite, boolean>;

  constructor(
    private readonly db: Database,
    private readonly catalog: ModuleTypeCatalog,
    /** Encrypts secrets before they are stored, decrypts what is read (see secrets-at-rest). */
    private readonly secrets: SecretsCipher,
    private readonly onCommitted: () => void = () => undefined,
    private readonly cacheSize = 10_000,
    groupCommit: GroupCommitOptions = { maxInFlight: 2, maxBatch: 64 },
    private readonly limits: WriteLimits = NO_WRITE_LIMITS,
  ) {
    this.groupCommit = new GroupCommit(
      (w) => w.nodeId,
      (ws) => this.commitTogether(ws),
      groupCommit,
    );
  }

  /** Applied (true) or refused because the node moved on (false), per write, in order. */
  private async commitTogether(writes: NodeWrite[]): Promise<(boolean | Error)[]> {
    if (writes.length > 1) {
      try {
        const applied = await appendNodeWrites(this.db, writes);
        return writes.map((w) => applied.has(w.nodeId));
      } catch (err) {
        // Another writer created one of these nodes meanwhile (unique key), or the statement
        // lost every retry of a deadlock (Database): sort it out write by write.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '40P01') throw err;
      }
    }
    return Promise.all(
      writes.map((w) =>
        appendNodeWrite(this.db, w).then(
          () => true,
          (err: Error) => (err instanceof StreamVersionConflict ? false : err),
        ),
      ),
    );
  }

  /** `signal`: the caller gave up (timeout); a write not yet sent is then dropped, not stored. */
  async handle(
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    signal?: AbortSignal,
  ): Promise<CommandResult> {
    let result: CommandResult | null = null;
    for (const mode of ['cached', 'read'] as const) {
      if (mode === 'cached' && !this.recent.has(nodeId)) continue;
      try {
        result = await this.attempt(this.db, nodeId, command, ctx, mode, signal);
        break;
      } catch (err) {
        this.recent.delete(nodeId);
        if (
          err instanceof StaleCache ||
          (mode === 'cached' && err instanceof StreamVersionConflict)
        )
          continue;
        if (!(err instanceof StreamVersionConflict)) throw err;
        if (ctx.expectedVersion !== undefined)
          throw new PreconditionFailed(ctx.expectedVersion, ctx.expectedVersion + 1);
        break;
      }
    }
    // Lost a race without If-Match: take the row-locking path, where every writer gets its turn.
    // Two creations of the same new node race on the unique key even then (no row yet).
    for (let attempt = 1; !result; attempt++) {
      signal?.throwIfAborted();
      try {
        result = await this.db.transaction((sql) =>
          this.attempt(sql, nodeId, command, ctx, 'lock'),
        );
      } catch (err) {
        if (!(err instanceof StreamVersionConflict) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
    this.remember(result.document);
    if (result.appended) this.onCommitted();
    return result;
  }

  private remember(doc: NodeDocument) {
    this.recent.delete(doc.nodeId);
    if (doc.version === 0) return;
    this.recent.set(doc.nodeId, doc);
    if (this.recent.size > this.cacheSize) this.recent.delete(this.recent.keys().next().value!);
  }

  /** The stored document, secrets decrypted. */
  private async read(sql: Sql, nodeId: string, mode: 'read' | 'lock') {
    const stored =
      mode === 'lock' ? await lockNodeDocument(sql, nodeId) : await readNodeDocument(sql, nodeId);
    if (!stored) return null;
    const opened = openDocument(stored, this.catalog, this.secrets);
    this.sealed.set(opened, stored);
    return opened;
  }

  private async attempt(
    sql: Sql,
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    mode: 'cached' | 'read' | 'lock',
    signal?: AbortSignal,
  ): Promise<CommandResult> {
    const { expectedVersion, ...metadata } = ctx;
    const current =
      mode === 'cached' ? this.recent.get(nodeId)! : await this.read(sql, nodeId, mode);
    const version = current?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== version) {
      if (mode === 'cached') throw new StaleCache();
      throw new PreconditionFailed(expectedVersion, version);
    }
    let events;
    try {
      events = decide(current, nodeId, command, this.catalog);
    } catch (err) {
      if (mode === 'cached') throw new StaleCache(); // judge refusals on the stored document
      throw err;
    }
    if (!events.length) {
      if (mode === 'cached') throw new StaleCache();
      return { document: current ?? emptyNode(nodeId), appended: 0, eventTypes: [] };
    }
    const next = evolveAll(current ?? emptyNode(nodeId), events);
    // Secrets leave this process only encrypted: sealed here, before the size check and the
    // append, so that everything above works in clear and what is measured, appended and relayed
    // holds ciphertexts.
    const before = current && this.sealed.get(current);
    const sealed = sealNodeWrite(
      { nodeId, expectedVersion: version, events, document: next },
      metadata,
      this.catalog,
      this.secrets,
      current && before ? { plain: current, stored: before } : null,
    );
    let write: NodeWrite;
    try {
      write = limitedNodeWrite(current, sealed.document, sealed.events, this.limits);
    } catch (err) {
      if (mode === 'cached') throw new StaleCache();
      throw err;
    }
    if (changesPersistenceModules(current, next)) {
      // The db.url guard reads other nodes: it needs the locked path's transaction.
      if (mode !== 'lock') throw new StaleCache();
      await guardPersistenceDatabases(sql, [next]);
    }
    if (mode === 'lock') await appendNodeWrite(sql, write);
    else if (!(await this.groupCommit.submit(write, signal)))
      throw new StreamVersionConflict(nodeId, version);
    this.sealed.set(next, write.document);
    return { document: next, appended: events.length, eventTypes: events.map((e) => e.type) };
  }
}
