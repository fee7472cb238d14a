import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { NatsConnection } from 'nats';
import { clusterReplicas, connectNats, ensureTopology, NatsConnectionState } from '@plexus/bus';
import {
  Database,
  NodeCommandHandler,
  openMigratedDatabase,
  WriteLimits,
} from '@plexus/event-store';
import { openSessionsBucket } from '@plexus/sessions';
import { ClusterModuleTypes } from '@plexus/module-runtime';
import { SecretsCipher, secretsCipherFromEnv } from '@plexus/secrets-crypto';
import { ControlPlaneEnv } from '../env';
import { NatsRepairModule } from '../nats-repair/nats-repair.module';
import { BusLimit } from './bus-limit';
import { fieldLogger } from './field-logger';
import { DependencyBreakers, isConnectionError } from './dependency-breakers';
import { ModuleTypeCatalogService } from './module-type-catalog.service';
import { RelayService } from './relay.service';
import { ShutdownService } from './shutdown.service';
import { CATALOG, DATABASE, NATS, RELAY_DATABASE, SECRETS, WRITE_LIMITS } from './injection-tokens';

/** Every pool of the control plane: no statement and no idle transaction holds on forever. */
const poolTimeouts = (env: ControlPlaneEnv) => ({
  statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
  idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
});

const providers = [
  {
    provide: DATABASE,
    inject: [ControlPlaneEnv],
    useFactory: (env: ControlPlaneEnv) => {
      const logger = new Logger('Postgres');
      return openMigratedDatabase(
        env.DATABASE_URL,
        env.STARTUP_TIMEOUT_MS,
        isConnectionError, // what the Postgres breaker counts as the database being down
        (err, attempt) =>
          logger.warn(`Postgres not answering yet (attempt ${attempt}): ${err.message}; retrying`),
        poolTimeouts(env),
      );
    },
  },
  {
    provide: RELAY_DATABASE,
    inject: [ControlPlaneEnv, DATABASE], // after DATABASE, which creates and migrates the database
    useFactory: (env: ControlPlaneEnv) =>
      Database.open(env.DATABASE_URL, {
        poolSize: 2,
        synchronousCommit: false,
        ...poolTimeouts(env),
      }),
  },
  {
    provide: NATS,
    inject: [ControlPlaneEnv],
    useFactory: async (env: ControlPlaneEnv) => {
      // noAsyncTraces: otherwise every request (two per relayed write: the event and the node
      // document) builds two Error objects up front just for their stack traces.
      const nc = await connectNats(
        env.NATS_URL,
        'plexus-control-plane',
        { noAsyncTraces: true },
        env.NATS_CREDS,
      );
      const logger = new Logger('NATS');
      const replicas = env.NATS_REPLICAS ?? clusterReplicas(nc);
      const cluster = nc.info?.cluster ? ` of cluster ${nc.info.cluster}` : '';
      logger.log(
        `connected to ${nc.getServer()}${cluster}; streams and buckets get ${replicas} replica(s)`,
      );
      await ensureTopology(nc, {
        eventsMaxAgeMs: env.EVENTS_STREAM_MAX_AGE_MS,
        replicas: env.NATS_REPLICAS,
        logger: fieldLogger(logger),
      });
      // Workers may lack the right to create buckets (examples/nats-auth.conf): create it here.
      await openSessionsBucket(nc, undefined, replicas);
      return nc;
    },
  },
  {
    provide: NatsConnectionState,
    inject: [NATS],
    useFactory: (nc: NatsConnection) => {
      const logger = new Logger('NATS');
      return new NatsConnectionState(nc, (up) =>
        up ? logger.log('NATS reconnected') : logger.warn('NATS disconnected'),
      );
    },
  },
  { provide: BusLimit, inject: [NATS], useFactory: (nc: NatsConnection) => new BusLimit(nc) },
  {
    provide: WRITE_LIMITS,
    inject: [BusLimit, ControlPlaneEnv],
    useFactory: (bus: BusLimit, env: ControlPlaneEnv): WriteLimits => ({
      busBytes: () => bus.bytes,
      node: { maxModules: env.NODE_MAX_MODULES, maxKeys: env.NODE_MAX_KEYS },
    }),
  },
  ModuleTypeCatalogService,
  {
    provide: CATALOG,
    inject: [ModuleTypeCatalogService],
    useFactory: async (types: ModuleTypeCatalogService) => {
      await types.firstRead();
      return types.catalog;
    },
  },
  {
    provide: SECRETS,
    inject: [ControlPlaneEnv],
    // validateEnv has checked the keys: the environment always has one.
    useFactory: (env: ControlPlaneEnv) => secretsCipherFromEnv(env)!,
  },
  DependencyBreakers,
  RelayService,
  ShutdownService,
  {
    provide: NodeCommandHandler,
    inject: [DATABASE, CATALOG, SECRETS, RelayService, ControlPlaneEnv, WRITE_LIMITS],
    useFactory: (
      db: Database,
      catalog: ClusterModuleTypes,
      secrets: SecretsCipher,
      relay: RelayService,
      env: ControlPlaneEnv,
      limits: WriteLimits,
    ) => {
      const handler = new NodeCommandHandler({
        db,
        catalog,
        secrets,
        onCommitted: (stored) => relay.committed(stored),
        groupCommit: {
          maxInFlight: env.GROUP_COMMIT_IN_FLIGHT,
          maxBatch: env.GROUP_COMMIT_MAX_BATCH,
        },
        limits,
      });
      relay.followPeerDocuments(handler);
      return handler;
    },
  },
];

/**
 * Connections, relay and command handling, built from an already validated environment; global,
 * so every feature module gets them without importing this one. NATS repair comes with it: it
 * refills from Postgres what the relay publishes.
 */
@Global()
@Module({})
export class InfraModule {
  static forRoot(env: ControlPlaneEnv): DynamicModule {
    return {
      module: InfraModule,
      imports: [NatsRepairModule],
      providers: [{ provide: ControlPlaneEnv, useValue: env }, ...providers],
      exports: [
        ControlPlaneEnv,
        DATABASE,
        NATS,
        NatsConnectionState,
        CATALOG,
        BusLimit,
        WRITE_LIMITS,
        SECRETS,
        DependencyBreakers,
        RelayService,
        NodeCommandHandler,
      ],
    };
  }
}

export type { NatsConnection };
