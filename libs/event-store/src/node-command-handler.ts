import {
  changesPersistenceModules,
  decide,
  emptyNode,
  ModuleTypeCatalog,
  NodeCommand,
  NodeDocument,
} from '@plexus/domain';
import { SecretsCipher } from '@plexus/secrets-crypto';
import {
  appendNodeWrites,
  NodeWrite,
  NodeWriteOutcome,
  outcomeOf,
  tryAppendNodeWrite,
} from './appendNodeWrites';
import { StreamVersionConflict } from './appendToStream';
import { NO_WRITE_LIMITS, WriteLimits } from './bus-size';
import { Database, Sql } from './database';
import { AbandonSignal, GroupCommit, GroupCommitOptions, WriteAbandoned } from './group-commit';
import { readNodeDocument } from './node-documents';
import { lockNodeDocument } from './node-locks';
import { guardPersistenceDatabases } from './persistence-guard';
import { PreconditionFailed } from './precondition-failed';
import { NodeWriteRules, prepareNodeWrite } from './prepareNodeWrite';
import { openDocument } from './secrets-at-rest';
import { EventMetadata } from './stored-event';
import { nextStep, WriteAttempt, WriteMode } from './write-attempt';

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

export interface NodeCommandHandlerOptions {
  db: Database;
  catalog: ModuleTypeCatalog;
  /** Encrypts secrets before they are stored, decrypts what is read (see secrets-at-rest). */
  secrets: SecretsCipher;
  /**
   * Called after every command that appended events (the relay then publishes them), with the
   * node's document as stored (secrets sealed) and its JSON when at hand.
   */
  onCommitted?: (stored?: StoredNodeDocument) => void;
  /** How many documents the cache of recent writes holds. */
  cacheSize?: number;
  groupCommit?: GroupCommitOptions;
  limits?: WriteLimits;
}

/** A node document as stored (secrets sealed), and its JSON when the write made it. */
export interface StoredNodeDocument {
  document: NodeDocument;
  json?: string;
}

const UNDECIDED: WriteAttempt = { kind: 'undecided' };

/**
 * Runs a command against a node: read the document, decide, then append the events and save the
 * new document atomically.
 *
 * The first attempt is optimistic: a plain read (or the cached document), then one statement
 * that appends and saves, shared with other nodes' writes under load (group commit); the version
 * check in that statement and the unique (stream, version) key catch a concurrent writer. If another writer
 * won, a write with If-Match gets PreconditionFailed naming the version the node is at; one
 * without takes the locked path: a transaction that locks the node's row, so that under
 * contention every writer gets its turn instead of retrying forever. Each attempt ends in a
 * WriteAttempt; nextStep (write-attempt.ts) says what follows it.
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
   * what it changes. With its JSON when the write made it, for onCommitted.
   */
  private readonly sealed = new WeakMap<NodeDocument, StoredNodeDocument>();

  /** Optimistic writes of different nodes share statements and commits under load. */
  private readonly groupCommit: GroupCommit<NodeWrite, NodeWriteOutcome>;

  private readonly db: Database;
  private readonly rules: NodeWriteRules;
  private readonly onCommitted: (stored?: StoredNodeDocument) => void;
  private readonly cacheSize: number;

  constructor(options: NodeCommandHandlerOptions) {
    const { db, catalog, secrets, limits = NO_WRITE_LIMITS } = options;
    this.db = db;
    this.rules = { catalog, secrets, limits };
    this.onCommitted = options.onCommitted ?? (() => undefined);
    this.cacheSize = options.cacheSize ?? 10_000;
    this.groupCommit = new GroupCommit(
      (w) => w.nodeId,
      (ws) => this.commitTogether(ws),
      options.groupCommit ?? { maxInFlight: 1, maxBatch: 64 },
    );
  }

  /** Each write's outcome, in order (an Error for a write that failed on its own). */
  private async commitTogether(writes: NodeWrite[]): Promise<(NodeWriteOutcome | Error)[]> {
    if (writes.length > 1) {
      try {
        const outcome = await appendNodeWrites(this.db, writes);
        return writes.map((w) => outcomeOf(outcome, w.nodeId));
      } catch (err) {
        // Another writer created one of these nodes meanwhile (unique key), or the statement
        // lost every retry of a deadlock (Database): sort it out write by write.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '40P01') throw err;
      }
    }
    return Promise.all(
      writes.map((w) => tryAppendNodeWrite(this.db, w).catch((err: Error) => err)),
    );
  }

  /** `signal`: the caller gave up (timeout); a write not yet sent is then dropped, not stored. */
  async handle(
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    signal?: AbandonSignal,
  ): Promise<CommandResult> {
    let mode: WriteMode = this.recent.has(nodeId) ? 'cached' : 'read';
    for (let lockAttempts = 0; ;) {
      if (mode === 'lock') {
        if (signal?.aborted) throw new WriteAbandoned();
        lockAttempts++;
      }
      let attempt: WriteAttempt;
      try {
        attempt = await this.attemptIn(mode, nodeId, command, ctx, signal);
      } catch (err) {
        this.recent.delete(nodeId);
        throw err;
      }
      const step = nextStep(mode, attempt, ctx.expectedVersion, lockAttempts);
      if (step.kind === 'done') {
        this.remember(step.result.document);
        if (step.result.appended) this.onCommitted(this.sealed.get(step.result.document));
        return step.result;
      }
      this.recent.delete(nodeId);
      if (step.kind === 'precondition-failed')
        throw new PreconditionFailed(step.expected, step.actual);
      if (step.kind === 'give-up') throw new StreamVersionConflict(nodeId, step.expectedVersion);
      mode = step.mode;
    }
  }

  private attemptIn(
    mode: WriteMode,
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    signal?: AbandonSignal,
  ): Promise<WriteAttempt> {
    if (mode !== 'lock') return this.attempt(this.db, nodeId, command, ctx, mode, signal);
    // Under the row lock nobody overtakes. An attempt that did not commit wrote nothing: its
    // COMMIT only releases the lock (or, after a unique-key clash, is the rollback Postgres
    // makes of any COMMIT in a failed transaction).
    return this.db.transaction((sql) => this.attempt(sql, nodeId, command, ctx, 'lock'));
  }

  /** Whether this replica caches a document of the node (what `learn` would replace). */
  caches(nodeId: string): boolean {
    return this.recent.has(nodeId);
  }

  /**
   * A document another replica committed (its relay hint, or the nodes bucket): when this replica
   * caches an older version of the node, the newer one replaces it. Otherwise its next write of
   * the node would decide on the old one, lose the append and read: three statements, not one.
   */
  learn(stored: StoredNodeDocument): void {
    const { nodeId, version } = stored.document;
    const cached = this.recent.get(nodeId);
    if (!cached || cached.version >= version) return;
    try {
      const opened = openDocument(stored.document, this.rules.catalog, this.rules.secrets);
      this.sealed.set(opened, { document: stored.document });
      this.remember(opened);
    } catch {
      this.recent.delete(nodeId); // cannot open it here: the next write reads the stored one
    }
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
    const opened = openDocument(stored, this.rules.catalog, this.rules.secrets);
    this.sealed.set(opened, { document: stored });
    return opened;
  }

  /**
   * One attempt. Refusals of the command (DomainError, 413) are thrown, except on the cached
   * document, which never refuses: it only says "undecided", and the stored one is read.
   */
  private async attempt(
    sql: Sql,
    nodeId: string,
    command: NodeCommand,
    ctx: CommandContext,
    mode: WriteMode,
    signal?: AbandonSignal,
  ): Promise<WriteAttempt> {
    const { expectedVersion, ...metadata } = ctx;
    const current =
      mode === 'cached' ? this.recent.get(nodeId)! : await this.read(sql, nodeId, mode);
    const version = current?.version ?? 0;
    if (expectedVersion !== undefined && expectedVersion !== version)
      return { kind: 'stale', expectedVersion, currentVersion: version };
    let prepared;
    try {
      const events = decide(current, nodeId, command, this.rules.catalog);
      prepared = events.length
        ? {
            events,
            ...prepareNodeWrite(
              nodeId,
              current,
              events,
              metadata,
              this.rules,
              (current && this.sealed.get(current)?.document) ?? undefined,
            ),
          }
        : null;
    } catch (err) {
      if (mode === 'cached') return UNDECIDED; // judge refusals on the stored document
      throw err;
    }
    if (!prepared) {
      if (mode === 'cached') return UNDECIDED;
      const document = current ?? emptyNode(nodeId);
      return { kind: 'committed', result: { document, appended: 0, eventTypes: [] } };
    }
    const { events, next, write } = prepared;
    if (changesPersistenceModules(current, next)) {
      // The db.url guard reads other nodes: it needs the locked path's transaction.
      if (mode !== 'lock') return UNDECIDED;
      await guardPersistenceDatabases(sql, [next]);
    }
    const outcome =
      mode === 'lock'
        ? await tryAppendNodeWrite(sql, write)
        : await this.groupCommit.submit(write, signal);
    if (outcome.kind === 'stale')
      return { kind: 'stale', expectedVersion: version, currentVersion: outcome.currentVersion };
    if (outcome.kind === 'conflict') return { kind: 'conflict', expectedVersion: version };
    this.sealed.set(next, { document: write.document, json: write.documentJson });
    return {
      kind: 'committed',
      result: { document: next, appended: events.length, eventTypes: events.map((e) => e.type) },
    };
  }
}
