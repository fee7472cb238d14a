/**
 * Every NATS subject, stream, bucket and queue name Plexus uses, in one place (DESIGN.md).
 * IDs may contain ".", which separates subject tokens, so IDs are encoded as one token.
 */
export const subjectToken = (id: string) => id.replace(/\./g, '~');

/** JetStream stream of every recorded event (audit, other consumers); msg-id = event ID. */
export const EVENTS_STREAM = 'PLEXUS_EVENTS';
export const EVENTS_SUBJECTS = 'plexus.events.>';
export const eventSubject = (nodeId: string, type: string) =>
  `plexus.events.${subjectToken(nodeId)}.${type}`;
export const nodeEventsFilter = (nodeId: string) => `plexus.events.${subjectToken(nodeId)}.>`;
/** The narrowest one subject of the events stream that holds a node's events and/or a type's. */
export const eventsFilter = (nodeId?: string, type?: string) =>
  `plexus.events.${nodeId === undefined ? '*' : subjectToken(nodeId)}.${type ?? '*'}`;

/** KV bucket with the latest full document of every node: what workers watch. Key = node ID. */
export const NODES_BUCKET = 'plexus-nodes';
/** The JetStream stream behind NODES_BUCKET (JetStream names a bucket's stream KV_<bucket>). */
export const NODES_BUCKET_STREAM = `KV_${NODES_BUCKET}`;

/**
 * KV bucket with the process count each node should run (key as nodeDocumentKey): a copy of the
 * node's last ScalingPolicySet/ScaleRecommended, put by the relay; what supervisors watch.
 */
export const SCALING_BUCKET = 'plexus-scaling';

/** KV bucket of shared login sessions. */
export const SESSIONS_BUCKET = 'plexus-sessions';

/** Durable join/leave announcements, so none is lost while the control plane is down. */
export const MEMBERSHIP_STREAM = 'PLEXUS_MEMBERSHIP';
export const MEMBERSHIP_SUBJECTS = 'plexus.membership.>';
export const membershipSubject = (nodeId: string, processId: string, what: 'joined' | 'left') =>
  `plexus.membership.${subjectToken(nodeId)}.${subjectToken(processId)}.${what}`;
/** Every join and leave of a node's processes. */
export const nodeMembershipFilter = (nodeId: string) =>
  `plexus.membership.${subjectToken(nodeId)}.>`;

/** Core NATS (fire and forget): heartbeats every second; applied-config reports. */
export const heartbeatSubject = (nodeId: string, processId: string) =>
  `plexus.heartbeat.${subjectToken(nodeId)}.${subjectToken(processId)}`;
export const HEARTBEAT_ALL = 'plexus.heartbeat.>';
export const appliedSubject = (nodeId: string, processId: string) =>
  `plexus.applied.${subjectToken(nodeId)}.${subjectToken(processId)}`;
export const APPLIED_ALL = 'plexus.applied.>';

/** A hint, sent after a commit, that wakes the relay at once instead of on its next poll. */
export const RELAY_WAKE = 'plexus.relay.wake';

/**
 * Core NATS (fire and forget): a named admin token was revoked (payload `{tokenId}`, never the
 * token). Every control-plane replica drops it from its token cache at once.
 */
export const TOKEN_REVOKED = 'plexus.tokens.revoked';

/**
 * First start of a node: a worker asks the control plane to create its node. The subject names
 * the node, so that a node's NATS user may be allowed to seed that node only.
 */
export const seedNodeSubject = (nodeId: string) => `plexus.rpc.nodes.seed.${subjectToken(nodeId)}`;

/** Request/reply patterns served by the control plane through @nestjs/microservices. */
export const PATTERNS = {
  /** Every node's seed subject (seedNodeSubject); the handler checks the node against it. */
  seedNode: 'plexus.rpc.nodes.seed.*',
} as const;
export const CONTROL_PLANE_QUEUE = 'plexus-control-plane';

/**
 * The key of a node's document in NODES_BUCKET: the node ID itself whenever that is a valid KV
 * key (every ID without a leading, trailing or doubled "."); otherwise the ID with each "." as
 * "=", a character IDs never contain, so two node IDs never share a key.
 */
export const nodeDocumentKey = (nodeId: string) =>
  /^\.|\.$|\.\./.test(nodeId) ? nodeId.replace(/\./g, '=') : nodeId;
/** The node ID whose document is at this key of NODES_BUCKET (IDs never contain "="). */
export const nodeIdOfDocumentKey = (key: string) => key.replace(/=/g, '.');
/** The subject of a key of NODES_BUCKET: puts go there, and core subscribers see them there. */
export const nodeDocumentSubject = (key: string) => `$KV.${NODES_BUCKET}.${key}`;

/**
 * Core NATS (fire and forget): a process dropped a session from its cache because it was revoked,
 * with process.hrtime.bigint() of that moment (the host's monotonic clock), so that "revoke →
 * refused everywhere" can be timed from the processes' own reports. `realmKey` is the realm in
 * its key-safe form (libs/sessions realmKey); the payload names the session by its ID (a hash of
 * the token, not the token).
 */
export const sessionDroppedSubject = (realmKey: string) => `plexus.sessions.dropped.${realmKey}`;
export const SESSIONS_DROPPED_ALL = 'plexus.sessions.dropped.>';

/**
 * KV bucket of the leases of `activation: single` modules: one key per (node, module), held by
 * the one process that runs the module. The bucket's max age is the lease time (nats-server 2.9
 * has no per-key TTL), so a lease its holder stops renewing disappears by itself.
 */
export const LEASES_BUCKET = 'plexus-leases';

/**
 * An ID as exactly one token of a KV key: every "." as "=", a character IDs never contain (KV
 * keys may not contain "~", which subjectToken uses).
 */
export const keyToken = (id: string) => id.replace(/\./g, '=');

/**
 * The key of a module's lease in LEASES_BUCKET: `<node>.<module>`, each ID one token (keyToken),
 * so that a node's NATS user may be allowed `$KV.plexus-leases.<node>.>` and nothing else.
 */
export const moduleLeaseKey = (nodeId: string, moduleId: string) =>
  `${keyToken(nodeId)}.${keyToken(moduleId)}`;

/**
 * KV bucket of failed-login counters of security modules, shared by every process of a realm:
 * keys `<realm key>.<hash of the user name>` (loginFailureKey).
 */
export const LOGIN_FAILURES_BUCKET = 'plexus-login-failures';
/** `realmKey` as libs/sessions realmKey makes it (one token); `userHash` one token (base64url). */
export const loginFailureKey = (realmKey: string, userHash: string) => `${realmKey}.${userHash}`;

/**
 * KV bucket of the module types each live process runs (its catalogue): one key per process and
 * type, `<node>.<process>.<type>` (moduleTypeKey), so that a node's NATS user may be allowed
 * `$KV.plexus-module-types.<node>.>` and nothing else. A process puts its keys when it joins and
 * deletes them when it leaves; the failure detector deletes those of a lost process.
 */
export const MODULE_TYPES_BUCKET = 'plexus-module-types';
export const moduleTypeKey = (nodeId: string, processId: string, type: string) =>
  `${keyToken(nodeId)}.${keyToken(processId)}.${keyToken(type)}`;
/** Every key of one process in MODULE_TYPES_BUCKET. */
export const processModuleTypesFilter = (nodeId: string, processId: string) =>
  `${keyToken(nodeId)}.${keyToken(processId)}.>`;

/**
 * The buckets worker processes read: each must allow direct gets, whose subject names the key
 * (`$JS.API.DIRECT.GET.<stream>.$KV.<bucket>.<key>`), so that a NATS permission can limit a
 * node's user to its own keys (the older STREAM.MSG.GET carries the key in its body).
 */
export const WORKER_BUCKETS = [
  NODES_BUCKET,
  SCALING_BUCKET,
  SESSIONS_BUCKET,
  LEASES_BUCKET,
  LOGIN_FAILURES_BUCKET,
  MODULE_TYPES_BUCKET,
] as const;

/** nats.js's inbox prefix; a node's NATS user gets one of its own (NATS_INBOX_PREFIX). */
export const DEFAULT_INBOX_PREFIX = '_INBOX';

/**
 * Request/reply to the processes that run a persistence module: batch jobs (list, get, submit,
 * cancel). Every such process subscribes in BATCH_JOBS_QUEUE, so exactly one live process of
 * the (node, module) answers each request.
 */
export const batchJobsSubject = (nodeId: string, moduleId: string) =>
  `plexus.rpc.batch-jobs.${subjectToken(nodeId)}.${subjectToken(moduleId)}`;
export const BATCH_JOBS_ALL = 'plexus.rpc.batch-jobs.>';
export const BATCH_JOBS_QUEUE = 'plexus-batch-jobs';

/**
 * Request/reply: the runtime status of one process (module states and health), asked by the
 * control plane. The subject names the node and the process, so a node's NATS user may be
 * allowed to answer for its own node only; only that process subscribes to it.
 */
export const runtimeStatusSubject = (nodeId: string, processId: string) =>
  `plexus.rpc.status.${subjectToken(nodeId)}.${subjectToken(processId)}`;
