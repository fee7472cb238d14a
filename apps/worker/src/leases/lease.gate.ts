import type { ModuleLeases } from '@plexus/bus';
import type { NodeDocument } from '@plexus/domain';
import { ApplyResult, leasedModules, ModuleHost, ModuleTypeRegistry } from '@plexus/module-runtime';
import { errorText, Logger } from '@plexus/common';

/** A process whose start of a single module failed contends for its lease again after this. */
export const RETRY_LEASE_AFTER_FAILURE_MS = 5000;

export interface LeaseGateOptions {
  registry: ModuleTypeRegistry;
  host: Pick<ModuleHost, 'submit'>;
  leases: Pick<ModuleLeases, 'contended' | 'contend' | 'retain' | 'held' | 'yieldLease'>;
  logger: Logger;
}

/**
 * Stands between the node-document watch and the host for modules with `activation: single`:
 * only the holder of a module's lease runs it, so this process contends for the leases a
 * document needs before the host applies it, and lets go of those no document needs any more.
 */
export class LeaseGate {
  /** Contending for the leases a document needs before it is applied (see offer). */
  private preparing: Promise<void> | null = null;
  /** The leased modules of each offered document not applied yet, by version. */
  private readonly leasedByVersion = new Map<number, string[]>();

  constructor(private readonly options: LeaseGateOptions) {}

  /**
   * Hands a document to the host. One with a `single` module this process does not contend for
   * yet waits for one attempt at its lease first, so that the winner keeps the module running
   * through an all -> single switch; every other document goes straight to the host (no NATS
   * round trip on the apply path), behind any that is still waiting, to keep their order.
   */
  offer(doc: NodeDocument) {
    const { host, leases, registry, logger } = this.options;
    const leased = leasedModules(doc, registry);
    this.leasedByVersion.set(doc.version, leased);
    const contended = new Set(leases.contended());
    if (!this.preparing && leased.every((id) => contended.has(id))) {
      host.submit(doc);
      return;
    }
    const prepared = (this.preparing ?? Promise.resolve())
      .then(() => leases.contend(leased))
      .catch((err) => logger.warn('contending for module leases failed', { error: errorText(err) }))
      .then(() => void host.submit(doc));
    this.preparing = prepared;
    void prepared.finally(() => {
      if (this.preparing === prepared) this.preparing = null;
    });
  }

  /** Resolves once every document offered so far has reached the host. */
  async handedOver(): Promise<void> {
    await this.preparing;
  }

  /** Stops contending for modules no document in play runs as single; yields failed ones. */
  onApplied(result: ApplyResult) {
    const { leases } = this.options;
    const keep = new Set<string>();
    for (const [version, leased] of this.leasedByVersion) {
      if (version < result.version) this.leasedByVersion.delete(version);
      else leased.forEach((id) => keep.add(id));
    }
    if (leases.contended().some((id) => !keep.has(id))) void leases.retain(keep);
    // The active process of a single module that failed to start it hands it to another process.
    for (const id of leases.held()) {
      const status = result.modules[id];
      if (status?.state === 'failed')
        void leases.yieldLease(
          id,
          `it failed to start here: ${status.error ?? 'unknown error'}`,
          RETRY_LEASE_AFTER_FAILURE_MS,
        );
    }
  }
}
