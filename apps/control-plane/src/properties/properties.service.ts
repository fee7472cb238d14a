import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import {
  decide,
  DomainError,
  idProblem,
  invalid,
  lineOfModule,
  ModuleSupport,
  moduleSupport,
  ModuleTypeCatalog,
  NodeDocument,
  NodeFileSection,
  nodesFromPropertyEntries,
  nodeToProperties,
  notFound,
  redactDocument,
  REDACTED,
  unregisteredTypeWarnings,
} from '@plexus/domain';
import {
  appendMultiNodeWrite,
  CommandContext,
  compareNodeIds,
  Database,
  listNodeSummaries,
  readNodeDocument,
  readNodeDocuments,
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

/** How Plexus took one module of an imported file: runs it, does its job itself, or stores it unsupported. */
export interface ImportedModule extends ModuleSupport {
  nodeId: string;
}

export interface ImportAnswer {
  nodes: ImportedNode[];
  /** Every module of the file, in file order per node: what the import made of its type. */
  modules: ImportedModule[];
  /** Modules this import added or changed whose type no live process has registered. */
  warnings: string[];
}

export interface ExportedProperties {
  text: string;
  /** The node's version when one node was exported (for the ETag). */
  version?: number;
}

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
   * Parses and splits the file (a malformed one is refused naming the line), then hands every
   * node's import to the event store, which decides each on what is stored (one invalid node
   * refuses the file) and appends all nodes' events in one transaction: all nodes or none.
   */
  async import(input: string | Uint8Array, ctx: CommandContext): Promise<ImportAnswer> {
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

    const nodes = sections.map((section) => ({
      nodeId: section.nodeId,
      decide: (current: NodeDocument | null) => this.decide(current, section),
    }));
    let written;
    try {
      written = await appendMultiNodeWrite(
        this.db,
        { nodes, expectedVersion, metadata },
        {
          catalog: this.catalog,
          secrets: this.secrets,
          limits: this.limits,
          // The reads go through the breaker, so a dead server fails fast; the transaction does
          // not: its 1 s timeout would answer 503 for a large file while it goes on to commit.
          read: (ids) => this.breakers.postgres(() => readNodeDocuments(this.db, ids)),
        },
      );
    } catch (err) {
      if (
        err instanceof DependencyUnavailable ||
        err instanceof StreamVersionConflict ||
        !isDriverError(err)
      )
        throw err;
      throw new DependencyUnavailable('postgres', err);
    }
    if (written.some((n) => n.events.length > 0)) this.relay.committed();
    // Modules this import added or changed whose type nobody registered: stored unchecked.
    const touchedTypes = written.flatMap(({ nodeId, events }) => {
      const section = sections.find((s) => s.nodeId === nodeId);
      return events.flatMap((e) => {
        const moduleId = (e.data as { moduleId?: unknown }).moduleId;
        const m = section?.modules.find((x) => x.moduleId === moduleId);
        return m && (e.type === 'ModuleAdded' || e.type === 'ModuleConfigChanged') ? [m.type] : [];
      });
    });
    return {
      nodes: written.map(({ nodeId, version, events }) => ({
        nodeId,
        version: version + events.length,
        changed: events.length > 0,
        created: events[0]?.type === 'NodeCreated',
        events: events.map((e) => e.type),
      })),
      modules: sections.flatMap((section) =>
        section.modules.map((m) => ({
          nodeId: section.nodeId,
          ...moduleSupport(m, this.catalog),
        })),
      ),
      warnings: unregisteredTypeWarnings(this.catalog, touchedTypes),
    };
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
