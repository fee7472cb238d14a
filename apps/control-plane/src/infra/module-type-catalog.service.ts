import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from 'nats';
import { ModuleTypeRegistrations } from '@plexus/bus';
import { sleep } from '@plexus/common';
import { builtInModuleTypes, ClusterModuleTypes } from '@plexus/module-runtime';
import { NATS } from './injection-tokens';
import { fieldLogger } from './field-logger';

/** How long the start waits for the catalogue bucket's first read before serving without it. */
const FIRST_READ_WAIT_MS = 5000;

/**
 * The module types the control plane validates with: the built-ins, and what live processes
 * publish in the plexus-module-types bucket (watched, so a process's types appear when it joins
 * and go when it leaves or is lost).
 */
@Injectable()
export class ModuleTypeCatalogService implements OnModuleDestroy {
  private readonly logger = new Logger('ModuleTypes');
  private readonly registrations: ModuleTypeRegistrations;
  readonly catalog: ClusterModuleTypes;

  constructor(@Inject(NATS) nc: NatsConnection) {
    this.registrations = new ModuleTypeRegistrations(nc, { logger: fieldLogger(this.logger) });
    this.catalog = new ClusterModuleTypes(builtInModuleTypes(), () =>
      this.registrations.list().map((e) => e.registration),
    );
  }

  /**
   * Resolves once the bucket has been read (or after a few seconds): a write right after a start
   * is checked against the types live processes registered, not stored with a warning.
   */
  async firstRead(): Promise<void> {
    const read = await Promise.race([
      this.registrations.ready.then(() => true),
      sleep(FIRST_READ_WAIT_MS).then(() => false),
    ]);
    if (!read)
      this.logger.warn(
        'the module types bucket has not been read yet: types of users’ packages are unknown until it is',
      );
  }

  onModuleDestroy() {
    return this.registrations.stop();
  }
}
