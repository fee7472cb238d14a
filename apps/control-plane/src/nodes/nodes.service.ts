import { Inject, Injectable } from '@nestjs/common';
import {
  diffDocuments,
  NodeDiff,
  idProblem,
  invalid,
  ModuleTypeCatalog,
  NodeCommand,
  NodeDocument,
  notFound,
  redactDocument,
  unregisteredTypeWarnings,
} from '@plexus/domain';
import {
  CommandContext,
  Database,
  listNodeSummaries,
  NodeCommandHandler,
  openDocument,
  readNodeDocument,
  readNodeDocumentAt,
} from '@plexus/event-store';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { CATALOG, DATABASE, SECRETS } from '../infra/injection-tokens';

export function checkId(field: string, value: string) {
  const problem = idProblem(field, value);
  if (problem) throw invalid(problem);
}

/** HTTP-facing node operations: every read is redacted, every write goes through the command handler. */
@Injectable()
export class NodesService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CATALOG) private readonly catalog: ModuleTypeCatalog,
    @Inject(SECRETS) private readonly secrets: SecretsCipher,
    private readonly commands: NodeCommandHandler,
    private readonly breakers: DependencyBreakers,
  ) {}

  async execute(nodeId: string, command: NodeCommand, ctx: CommandContext) {
    checkId('nodeId', nodeId);
    const result = await this.breakers.postgres((signal) =>
      this.commands.handle(nodeId, command, ctx, signal),
    );
    return {
      ...result,
      document: redactDocument(result.document, this.catalog),
      warnings: unregisteredTypeWarnings(this.catalog, writtenTypes(command, result.document)),
    };
  }

  list() {
    return this.breakers.postgres(() => listNodeSummaries(this.db));
  }

  /** The latest document, or the one at `version` / `asOf`, rebuilt from the event stream. */
  async get(nodeId: string, at: { version?: number; asOf?: Date }): Promise<NodeDocument> {
    const doc = await this.documentAt(nodeId, at);
    if (doc.archived && at.version === undefined && at.asOf === undefined)
      throw notFound(`node "${nodeId}" is archived`);
    return redactDocument(doc, this.catalog);
  }

  /** As stored: secret values encrypted (answers redact them by the same rule). */
  private async documentAt(
    nodeId: string,
    at: { version?: number; asOf?: Date },
  ): Promise<NodeDocument> {
    checkId('nodeId', nodeId);
    const doc = await this.breakers.postgres(async () => {
      if (at.version === undefined && at.asOf === undefined)
        return readNodeDocument(this.db, nodeId);
      const rebuilt = await readNodeDocumentAt(this.db, nodeId, at);
      if (rebuilt && at.version !== undefined && rebuilt.version < at.version)
        throw notFound(
          `node "${nodeId}" has no version ${at.version} (it is at version ${rebuilt.version})`,
        );
      return rebuilt;
    });
    if (!doc)
      throw notFound(
        `node "${nodeId}" does not exist${at.asOf ? ` at ${at.asOf.toISOString()}` : ''}`,
      );
    return doc;
  }

  /** Secrets in clear: for diffing and reverting, never for answers. */
  private async documentInClear(nodeId: string, at: { version?: number }) {
    return openDocument(await this.documentAt(nodeId, at), this.catalog, this.secrets);
  }

  async diff(nodeId: string, from: number, to?: number): Promise<NodeDiff> {
    const [a, b] = await Promise.all([
      this.documentInClear(nodeId, { version: from }),
      this.documentInClear(nodeId, to === undefined ? {} : { version: to }),
    ]);
    return diffDocuments(a, b, this.catalog);
  }

  /** Appends the events that restore version `toVersion`'s configuration; running processes converge on it. */
  async revert(nodeId: string, toVersion: number, ctx: CommandContext) {
    const target = await this.documentInClear(nodeId, { version: toVersion });
    return this.execute(nodeId, { kind: 'RestoreNode', target }, ctx);
  }
}

/** The module types whose configs a command writes (to warn of those nobody registered). */
function writtenTypes(command: NodeCommand, doc: NodeDocument): string[] {
  if (command.kind === 'PutModule') return [command.module.type];
  if (command.kind === 'PatchModuleConfig') {
    const m = doc.modules.find((x) => x.moduleId === command.moduleId);
    return m ? [m.type] : [];
  }
  return [];
}
