import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { mapDocumentSecrets, NodeDocument, NodeFromProperties } from '@plexus/domain';
import { ModuleTypeRegistry } from '@plexus/module-runtime';
import { errorText, sleep } from '@plexus/common';
import { WorkerOptions } from '../cli';
import { StartupError } from '../startup.error';
import { configDrift } from './config-drift';
import { ControlPlaneClient } from './control-plane.client';
import { NodePropertiesFile, parseNodePropertiesFile } from './properties-file.parser';

/** What seeding reads of the node-document watch the worker runs. */
export interface SeedingWatch {
  /** The newest document the watch delivered, if any. */
  latest(): NodeDocument | null;
  /** True once the worker is stopping: seeding gives up. */
  cancelled(): boolean;
}

/**
 * The node's first start: reads the --properties file, asks the control plane (over NATS) to
 * create a node that does not exist yet, and warns when the file differs from a stored node
 * (the stored config wins; changes go through the control plane).
 */
export class NodeSeedingService {
  constructor(
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    private readonly processId: string,
    private readonly registry: ModuleTypeRegistry,
    private readonly controlPlane: ControlPlaneClient,
  ) {}

  /** The parsed --properties file (null without one); a bad file stops the start. */
  readPropertiesFile(): NodePropertiesFile | null {
    const path = this.options.propertiesFile;
    if (!path) return null;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new StartupError(`cannot read --properties file ${path}: ${errorText(err)}`);
    }
    return parseNodePropertiesFile(bytes, path, this.options.nodeId, (key, lines) =>
      this.logger.warn({ key, lines }, 'key given more than once; the last one counts'),
    );
  }

  /**
   * Makes sure the node exists before the worker joins it: uses the stored document (warning on
   * drift from the file), or creates the node from the file and waits for its document.
   */
  async ensureNode(
    file: NodePropertiesFile | null,
    stored: NodeDocument | null,
    watch: SeedingWatch,
  ): Promise<void> {
    if (stored && !stored.archived) {
      this.logger.info(
        { version: stored.version },
        'node found in NATS KV; using the stored config',
      );
      if (file) this.warnOnDrift(file.node, stored);
      return;
    }
    await this.seed(file, stored, watch);
  }

  /** Creates the node through the control plane, then waits for its document in NATS KV. */
  private async seed(
    file: NodePropertiesFile | null,
    stored: NodeDocument | null,
    watch: SeedingWatch,
  ) {
    const { nodeId } = this.options;
    if (!file) {
      throw new StartupError(
        stored
          ? `node "${nodeId}" is archived; start with --properties FILE to create it again`
          : `node "${nodeId}" does not exist; start the first process of a node with --properties FILE`,
      );
    }
    this.logger.info(
      { modules: file.node.modules.map((m) => m.moduleId) },
      'node does not exist yet; asking the control plane to create it from the properties file',
    );
    const reply = await this.controlPlane.seedNode(
      { nodeId, processId: this.processId, properties: file.flat },
      watch.cancelled,
    );
    if (!reply) return;
    if (!reply.ok)
      throw new StartupError(
        `the control plane refused to create node "${nodeId}": ${reply.statusCode} ${reply.message}`,
      );
    this.logger.info(
      { created: reply.created, version: reply.document.version },
      reply.created
        ? 'node created from the properties file'
        : 'another process created the node first; using the stored config',
    );
    for (const warning of reply.warnings ?? []) this.logger.warn(warning);
    const doc = await this.waitForDocument(reply.document.version, watch);
    if (doc && !reply.created) this.warnOnDrift(file.node, doc);
  }

  private async waitForDocument(
    version: number,
    watch: SeedingWatch,
  ): Promise<NodeDocument | null> {
    const started = Date.now();
    let nextLog = 5000;
    while (!watch.cancelled()) {
      const latest = watch.latest();
      if (latest && latest.version >= version && !latest.archived) return latest;
      await sleep(20);
      if (Date.now() - started >= nextLog) {
        this.logger.warn(
          { version, waitedMs: Date.now() - started },
          "waiting for the node document in NATS KV (the control plane's relay publishes it)",
        );
        nextLog += 5000;
      }
    }
    return null;
  }

  private warnOnDrift(file: NodeFromProperties, stored: NodeDocument) {
    // Secrets are compared in clear (one that cannot be decrypted shows as differing).
    const open = (value: string) => {
      try {
        return this.options.secrets.decrypt(value);
      } catch {
        return value;
      }
    };
    const differences = configDrift(file, mapDocumentSecrets(stored, this.registry, open));
    if (differences.length)
      this.logger.warn(
        { propertiesFile: this.options.propertiesFile, version: stored.version, differences },
        'the properties file differs from the stored node; using the stored config (change it through the control plane)',
      );
  }
}
