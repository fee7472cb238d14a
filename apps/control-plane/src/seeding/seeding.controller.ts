import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { PATTERNS, SeedNodeReply, SeedNodeRequest, seedNodeSubject } from '@plexus/bus';
import {
  DomainError,
  idProblem,
  ModuleTypeCatalog,
  nodeFromProperties,
  redactDocument,
  unregisteredTypeWarnings,
} from '@plexus/domain';
import { Database, NodeCommandHandler, readNodeDocument } from '@plexus/event-store';
import { statusOfDomainError } from '../http/error-status';
import { DependencyBreakers } from '../infra/dependency-breakers';
import { CATALOG, DATABASE } from '../infra/injection-tokens';

/**
 * First start of a node (DESIGN.md): a worker asks, over NATS request/reply, to create its node
 * from its properties file. The first request wins; later ones get the stored document. Each
 * node has a subject of its own (seedNodeSubject), which a node's NATS user may be limited to;
 * a request for another node than its subject names is refused.
 */
@Controller()
export class SeedingController {
  private readonly logger = new Logger('Seeding');

  constructor(
    private readonly commands: NodeCommandHandler,
    private readonly breakers: DependencyBreakers,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CATALOG) private readonly catalog: ModuleTypeCatalog,
  ) {}

  @MessagePattern(PATTERNS.seedNode)
  async seed(@Payload() req: SeedNodeRequest, @Ctx() ctx: NatsContext): Promise<SeedNodeReply> {
    try {
      const problem = idProblem('nodeId', req?.nodeId);
      if (problem) return { ok: false, statusCode: 400, message: problem };
      if (seedNodeSubject(req.nodeId) !== ctx.getSubject())
        return {
          ok: false,
          statusCode: 400,
          message: `nodeId "${req.nodeId}" does not match the subject ${ctx.getSubject()}: a node is seeded on ${seedNodeSubject(req.nodeId)}`,
        };
      const parsed = nodeFromProperties(req.properties ?? {});
      if (parsed.nodeId !== null && parsed.nodeId !== req.nodeId)
        return {
          ok: false,
          statusCode: 400,
          message: `node.id in the file is "${parsed.nodeId}" but the process was started with --node-id ${req.nodeId}`,
        };
      const { document } = await this.breakers.postgres(() =>
        this.commands.handle(
          req.nodeId,
          { kind: 'SeedNode', properties: parsed.properties, modules: parsed.modules },
          {
            actor: `process:${req.processId}`,
            correlationId: randomUUID(),
            reason: 'first start from a properties file',
          },
        ),
      );
      this.logger.log(
        `node ${req.nodeId} created from the properties file of process ${req.processId}`,
      );
      const warnings = unregisteredTypeWarnings(
        this.catalog,
        document.modules.map((m) => m.type),
      );
      return {
        ok: true,
        created: true,
        document: redactDocument(document, this.catalog),
        ...(warnings.length ? { warnings } : {}),
      };
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'exists') {
        const doc = await this.breakers.postgres(() => readNodeDocument(this.db, req.nodeId));
        if (doc) return { ok: true, created: false, document: redactDocument(doc, this.catalog) };
      }
      if (err instanceof DomainError)
        return { ok: false, statusCode: statusOfDomainError(err.kind), message: err.message };
      this.logger.error(`seeding ${req?.nodeId} failed: ${(err as Error).message}`);
      return { ok: false, statusCode: 503, message: (err as Error).message };
    }
  }
}
