import { changesPersistenceModules, NodeDocument, NodeEvent } from '@plexus/domain';
import { appendNodeWrite, NodeWrite } from './appendNodeWrites';
import { StreamVersionConflict } from './appendToStream';
import { Database } from './database';
import { readNodeDocuments } from './node-documents';
import { compareNodeIds, lockNodeRows } from './node-locks';
import { guardPersistenceDatabases } from './persistence-guard';
import { PreconditionFailed } from './precondition-failed';
import { NodeWriteRules, prepareNodeWrite } from './prepareNodeWrite';
import { openDocument } from './secrets-at-rest';
import { EventMetadata } from './stored-event';

/** One node of a multi-node write. */
export interface PlannedNode {
  nodeId: string;
  /**
   * Pure: the events that make the node as stored (in clear; null: none) what the caller wants.
   * May throw a refusal (DomainError), which stores nothing of the whole write.
   */
  decide: (current: NodeDocument | null) => NodeEvent[];
}

export interface MultiNodeWrite {
  nodes: PlannedNode[];
  /** From If-Match: refuse unless every node (there is one) is at this version. */
  expectedVersion?: number;
  metadata: EventMetadata;
}

export interface MultiNodeWriteOptions extends NodeWriteRules {
  /** The optimistic read before the transaction (default: readNodeDocuments), e.g. with a timeout. */
  read?: (nodeIds: string[]) => Promise<NodeDocument[]>;
}

/** What the write did to one node. */
export interface WrittenNode {
  nodeId: string;
  /** The node's version before the write (0: it did not exist). */
  version: number;
  /** The events appended to it, in order (none: it already was what the caller wanted). */
  events: NodeEvent[];
}

interface NodePlan extends WrittenNode {
  current: NodeDocument | null;
  /** The node after the events, in clear, and what to append (null when there are no events). */
  prepared: { next: NodeDocument; write: NodeWrite } | null;
}

const MAX_ATTEMPTS = 5;

/**
 * Several nodes' commands, all or none, in the answer's order: reads them, decides each on what
 * is stored (a refusal of one refuses all), then appends every node's events in one transaction.
 * A node created by another writer between the read and the transaction makes it decide again on
 * it, a few times at most (then StreamVersionConflict).
 */
export async function appendMultiNodeWrite(
  db: Database,
  write: MultiNodeWrite,
  options: MultiNodeWriteOptions,
): Promise<WrittenNode[]> {
  const ids = write.nodes.map((n) => n.nodeId);
  const read = options.read ?? ((nodeIds: string[]) => readNodeDocuments(db, nodeIds));
  for (let attempt = 1; ; attempt++) {
    const plans = planNodes(write, await read(ids), options);
    if (!plans.some((p) => p.prepared)) return plans.map(written);
    try {
      return (await lockAndAppend(db, write, plans, options)).map(written);
    } catch (err) {
      // Another writer created one of the new nodes in between: decide again on it.
      if (!(err instanceof StreamVersionConflict) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

const written = ({ nodeId, version, events }: NodePlan): WrittenNode => ({
  nodeId,
  version,
  events,
});

/** Decides every node on what is stored of it and prepares its write; refusals store nothing. */
function planNodes(write: MultiNodeWrite, docs: NodeDocument[], rules: NodeWriteRules): NodePlan[] {
  const stored = new Map(
    docs.map((d) => [d.nodeId, openDocument(d, rules.catalog, rules.secrets)]),
  );
  return write.nodes.map(({ nodeId, decide }): NodePlan => {
    const current = stored.get(nodeId) ?? null;
    const version = current?.version ?? 0;
    const { expectedVersion } = write;
    if (expectedVersion !== undefined && expectedVersion !== version)
      throw new PreconditionFailed(expectedVersion, version);
    const events = decide(current);
    // Every secret encrypted afresh (no stored form to keep ciphertexts of).
    const prepared = events.length
      ? prepareNodeWrite(nodeId, current, events, write.metadata, rules)
      : null;
    return { nodeId, version, events, current, prepared };
  });
}

/**
 * One transaction: lock the nodes' rows (lockNodeRows: the one order every writer uses, so
 * neither another multi-node write nor a group commit over the same nodes can deadlock with it);
 * if another writer got to one of them since they were read, decide again on what is stored now,
 * under the locks, where nobody can overtake (a retry from the start could lose the race again
 * and again under load); append node by node in that order. Returns the plans it wrote.
 */
function lockAndAppend(
  db: Database,
  write: MultiNodeWrite,
  plans: NodePlan[],
  rules: NodeWriteRules,
): Promise<NodePlan[]> {
  return db.transaction(async (sql) => {
    const ids = write.nodes.map((n) => n.nodeId);
    const locked = await lockNodeRows(sql, ids);
    const current = plans.every((p) => (locked.get(p.nodeId)?.version ?? 0) === p.version)
      ? plans
      : planNodes(write, await readNodeDocuments(sql, ids), rules);
    const changed = current
      .filter((p) => p.prepared !== null)
      .sort((a, b) => compareNodeIds(a.nodeId, b.nodeId));
    if (changed.some((p) => changesPersistenceModules(p.current, p.prepared!.next)))
      await guardPersistenceDatabases(
        sql,
        changed.map((p) => p.prepared!.next),
      );
    // Still checks the version: a node created meanwhile (no row to lock) is a conflict, and
    // throwing rolls back what the nodes before it appended.
    for (const { prepared } of changed) await appendNodeWrite(sql, prepared!.write);
    return current;
  });
}
