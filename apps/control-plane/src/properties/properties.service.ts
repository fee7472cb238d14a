import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import {
  changesPersistenceModules,
  decide,
  DomainError,
  emptyNode,
  evolveAll,
  idProblem,
  invalid,
  lineOfModule,
  ModuleTypeCatalog,
  NodeDocument,
  NodeEvent,
  NodeFileSection,
  nodesFromPropertyEntries,
  nodeToProperties,
  notFound,
  redactDocument,
  REDACTED,
} from '@plexus/domain';
import {
  appendNodeWrite,
  CommandContext,
  compareNodeIds,
  Database,
  EventMetadata,
  guardPersistenceDatabases,
  limitedNodeWrite,
  listNodeSummaries,
  lockNodeRows,
  NodeWrite,
  openDocument,
  PreconditionFailed,
  readNodeDocument,
  readNodeDocuments,
  sealNodeWrite,
  StreamVersionConflict,
  WriteLimits,
} from '@plexus/event-store';
import { SecretsCipher } from '@plexus/secrets-crypto';
import {
  parsePropertiesDetailed,
  PropertiesSyntaxError,
  serializeProperties,
} from '@plexus/properties';
import { DependencyBreakers, DependencyUnavailable } from '../infra/dependency-breakers';
import { RelayService } from '../infra/relay.service';
import { CATALOG, DATABASE, SECRETS, WRITE_LIMITS } from '../infra/injection-tokens';

/** What an import did to one node of the file. */
export interface ImportedNode {
  nodeId: string;
  /** The node's version after the import (unchanged when `changed` is false). */
  version: number;
  changed: boolean;
  /** The node did not exist (or was archived) and the import created it. */
  created: boolean;
  /** Types of the events the import appended to this node, in order. */
  events: string[];
}

export interface ExportedProperties {
  text: string;
  /** The node's version when one node was exported (for the ETag). */
  version?: number;
}

/** One node of the file: what is stored and the events that make it equal its section. */
interface Plan {
  section: NodeFileSection;
  version: number;
  events: NodeEvent[];
  /** The node after the events, in clear (null when there are no events). */
  next: NodeDocument | null;
  /** What to append (null when there are no events): sealed, checked against the write limits. */
  write: NodeWrite | null;
  current: NodeDocument | null;
}

const MAX_ATTEMPTS = 5;
/** An error of the Postgres server, the driver or the socket (not of this code). */
const isDriverError = (err: unknown) =>
  typeof (err as { code?: unknown })?.code === 'string' ||
  /connection|terminat|timeout/i.test((err as Error)?.message ?? '');
const byNodeId = (a: { nodeId: string }, b: { nodeId: string }) =>
  compareNodeIds(a.nodeId, b.nodeId);
const RULE = '#'.repeat(80);

/**
 * Smile CDR properties files in and out (DESIGN.md "First start of a node"): export writes every
 * live node, secrets masked; import makes each node of a file equal its section, with ordinary
 * events under the importing actor, all nodes or none.
 */
@Injectable()
export class PropertiesService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CATALOG) private readonly catalog: ModuleTypeCatalog,
    @Inject(SECRETS) private readonly secrets: SecretsCipher,
    private readonly breakers: DependencyBreakers,
    private readonly relay: RelayService,
    @Inject(WRITE_LIMITS) private readonly limits: WriteLimits,
  ) {}

  /** Every live node (or the one named), each section starting at its `node.id` line. */
  async export(nodeId?: string): Promise<ExportedProperties> {
    const docs = await this.breakers.postgres(async () => {
      if (nodeId !== undefined) {
        const problem = idProblem('nodeId', nodeId);
        if (problem) throw invalid(problem);
        const doc = await readNodeDocument(this.db, nodeId);
        if (!doc || doc.archived) throw notFound(`node "${nodeId}" does not exist`);
        return [doc];
      }
      const ids = (await listNodeSummaries(this.db)).map((n) => n.nodeId);
      return (await readNodeDocuments(this.db, ids)).filter((d) => !d.archived).sort(byNodeId);
    });
    const head = [
      RULE,
      `# Plexus node configuration: ${docs.length === 1 ? `node ${docs[0].nodeId}` : `${docs.length} nodes`}`,
      '# Smile CDR properties format; each node starts at its node.id line.',
      `# Secret values are written as ${REDACTED}: importing this file keeps the stored ones.`,
      RULE,
    ];
    const sections = docs.map((doc) => this.exportNode(doc));
    return {
      text: [`${head.join('\n')}\n`, ...sections].join('\n'),
      version: nodeId !== undefined ? docs[0].version : undefined,
    };
  }

  private exportNode(doc: NodeDocument): string {
    const banner = [
      RULE,
      `# Node ${doc.nodeId} (version ${doc.version}, ${doc.modules.length} module${doc.modules.length === 1 ? '' : 's'})`,
    ];
    if (doc.properties.id !== undefined)
      banner.push('# Its property "id" is not written: node.id names the node in this format.');
    banner.push(RULE);
    const body = serializeProperties(nodeToProperties(redactDocument(doc, this.catalog)));
    return `${banner.join('\n')}\n${body}`;
  }

  /**
   * Parses and splits the file (a malformed one is refused naming the line), decides every node
   * on what is stored (one invalid node refuses the file), then appends all nodes' events in one
   * transaction: all nodes or none.
   */
  async import(input: string | Uint8Array, ctx: CommandContext): Promise<ImportedNode[]> {
    let sections: NodeFileSection[];
    try {
      sections = nodesFromPropertyEntries(parsePropertiesDetailed(input).entries);
    } catch (err) {
      if (err instanceof PropertiesSyntaxError) throw new BadRequestException(err.message);
      throw err;
    }
    const { expectedVersion, ...metadata } = ctx;
    if (expectedVersion !== undefined && sections.length !== 1)
      throw new BadRequestException(
        `If-Match applies to one node, but the file has ${sections.length} nodes`,
      );

    const ids = sections.map((s) => s.nodeId);
    for (let attempt = 1; ; attempt++) {
      const docs = await this.breakers.postgres(() => readNodeDocuments(this.db, ids));
      let plans = this.plan(sections, docs, metadata, expectedVersion);
      try {
        if (plans.some((p) => p.events.length > 0))
          plans = await this.write(sections, plans, expectedVersion, metadata);
      } catch (err) {
        // Another writer created one of the file's new nodes in between: decide again on it.
        if (err instanceof StreamVersionConflict && attempt < MAX_ATTEMPTS) continue;
        throw err;
      }
      if (plans.some((p) => p.events.length > 0)) this.relay.committed();
      return plans.map(({ section, version, events }) => ({
        nodeId: section.nodeId,
        version: version + events.length,
        changed: events.length > 0,
        created: events[0]?.type === 'NodeCreated',
        events: events.map((e) => e.type),
      }));
    }
  }

  /**
   * Decides every node of the file on what is stored of it and checks each write against the
   * limits; refusals store nothing.
   */
  private plan(
    sections: NodeFileSection[],
    docs: NodeDocument[],
    metadata: EventMetadata,
    expectedVersion?: number,
  ): Plan[] {
    const stored = new Map(
      docs.map((d) => [d.nodeId, openDocument(d, this.catalog, this.secrets)]),
    );
    return sections.map((section): Plan => {
      const current = stored.get(section.nodeId) ?? null;
      const version = current?.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== version)
        throw new PreconditionFailed(expectedVersion, version);
      const events = this.decide(current, section);
      if (!events.length) return { section, version, events, next: null, write: null, current };
      const next = evolveAll(current ?? emptyNode(section.nodeId), events);
      // Sealed (secrets encrypted) before the size check: what is measured is what is stored.
      const sealed = sealNodeWrite(
        { nodeId: section.nodeId, expectedVersion: version, events, document: next },
        metadata,
        this.catalog,
        this.secrets,
      );
      const write = limitedNodeWrite(current, sealed.document, sealed.events, this.limits);
      return { section, version, events, next, write, current };
    });
  }

  /**
   * One transaction: lock the file's nodes' rows in the one order every writer uses
   * (lockNodeRows, so neither another import nor a group commit over the same nodes can deadlock
   * with it); if another writer got to one of them since they were read, decide again on what is
   * stored now, under the locks, where nobody can overtake (a retry from the start could lose
   * the race again and again under load); append in that order. Returns the plans it wrote. Not
   * through the breaker's 1 s timeout, which would answer 503 for a large file while the
   * transaction goes on to commit; the reads just before went through it, so a dead server has
   * already failed fast.
   */
  private async write(
    sections: NodeFileSection[],
    plans: Plan[],
    expectedVersion: number | undefined,
    metadata: EventMetadata,
  ): Promise<Plan[]> {
    try {
      return await this.db.transaction(async (sql) => {
        const ids = sections.map((s) => s.nodeId);
        const locked = await lockNodeRows(sql, ids);
        const current = plans.every(
          (p) => (locked.get(p.section.nodeId)?.version ?? 0) === p.version,
        )
          ? plans
          : this.plan(sections, await readNodeDocuments(sql, ids), metadata, expectedVersion);
        const changed = current
          .filter((p) => p.write !== null)
          .sort((a, b) => byNodeId(a.section, b.section));
        if (changed.some((p) => changesPersistenceModules(p.current, p.next!)))
          await guardPersistenceDatabases(
            sql,
            changed.map((p) => p.next!),
          );
        // Still checks the version: a node created meanwhile (no row to lock) is a conflict.
        for (const { write } of changed) await appendNodeWrite(sql, write!);
        return current;
      });
    } catch (err) {
      if (err instanceof StreamVersionConflict || !isDriverError(err)) throw err;
      throw new DependencyUnavailable('postgres', err);
    }
  }

  /** The node's events, or a refusal that names the node and the line to look at. */
  private decide(current: NodeDocument | null, section: NodeFileSection) {
    try {
      return decide(
        current,
        section.nodeId,
        { kind: 'ImportNode', properties: section.properties, modules: section.modules },
        this.catalog,
      );
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const moduleId = (/module "([^"]+)"/.exec(err.message) ??
        /^modules\.(\S+?)\.config/.exec(err.message))?.[1];
      const line = moduleId ? lineOfModule(section, moduleId) : section.line;
      throw new DomainError(
        err.kind,
        `line ${line}: node "${section.nodeId}": ${err.message} (nothing of this file was imported)`,
      );
    }
  }
}
