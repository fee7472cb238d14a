/**
 * The data set of bench:audit: 1,000,000 events over 1,000 nodes, written with set-based SQL,
 * plus one node ("deep-node") whose stream holds 10,000 real node events (decided and evolved by
 * the domain code), interleaved with the others over ~90 days. A marker row makes reruns reuse it.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { decide, emptyNode, evolve, NodeCommand, NodeDocument, NodeEvent } from '@plexus/domain';
import { Database, EventMetadata, NewEvent, SNAPSHOT_EVERY, toNewEvent } from '@plexus/event-store';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { testSecretsCipher } from '../test/support/secrets';
import { progress } from './support';

/** Bump when the generated data changes: a database seeded by another version is seeded again. */
export const SEED_VERSION = 'audit-seed-v3';
export const NODES = 1000;
export const GENERATED_EVENTS = 1_000_000;
export const DEEP_NODE = 'deep-node';
export const DEEP_EVENTS = 10_000;
export const DAYS = 90;

/** ~20 actors with a skewed share each (per 10,000 node events); process events act as `process:<id>`. */
export const ACTORS = [
  'admin',
  'ci-deploy',
  'terraform',
  'ops-alice',
  'ops-bob',
  'ops-carol',
  'ops-dave',
  'ops-erin',
  'release-bot',
  'ops-frank',
  'ops-grace',
  'ops-heidi',
  'sre-ivan',
  'sre-judy',
  'sre-mallory',
  'sre-niaj',
  'sre-olivia',
  'sre-peggy',
  'auditor-import',
  'break-glass',
];
/** Cumulative upper bounds (of 10,000) of ACTORS[1..]: admin 25 %, ..., break-glass 0.03 %. */
const ACTOR_BOUNDS = [
  2500, 4500, 6000, 6800, 7600, 8200, 8700, 9100, 9400, 9600, 9720, 9800, 9860, 9910, 9940, 9965,
  9980, 9990, 9997,
];
export const ENDPOINT_MODULES = [
  'fhir_endpoint',
  'admin_web',
  'admin_json',
  'fhirweb_endpoint',
  'smart_auth',
];
export const DB_MODULES = [
  'persistence',
  'clustermgr',
  'audit_db',
  'package_db',
  'subscription_db',
  'mdm_db',
  'hfql_db',
];
const REASONS = ['CHG-1042 quarterly rollout', 'INC-311 rollback', 'rotate credentials', 'tuning'];

export const nodeName = (n: number) => `node-${String(n).padStart(4, '0')}`;

const sqlText = (values: string[]) => `ARRAY[${values.map((v) => `'${v}'`).join(',')}]`;

/**
 * Node streams: node n has 400–900 events (NodeCreated, three ModuleAdded, then a 20-event cycle
 * of config changes, property changes, stop/start, restarts, a secret rotation, remove and re-add
 * of its persistence module; every 100th node ends archived). Each node's remaining events up to
 * 1,000 are process streams of 20 events (joined, config applied or failed, left or lost).
 * recorded_at spreads over DAYS days ending now; the whole set is inserted in recorded_at order,
 * so positions and heap order follow time as they do in a live system.
 */
const GENERATED_SQL = `
WITH nodes AS (
  SELECT n,
         'node-' || lpad(n::text, 4, '0') AS node_id,
         400 + 20 * ((n * 37) % 26) AS v_count,
         (${sqlText(ENDPOINT_MODULES)})[1 + n % ${ENDPOINT_MODULES.length}] AS ep,
         (${sqlText(DB_MODULES)})[1 + n % ${DB_MODULES.length}] AS dbm,
         (ARRAY['eu-west','us-east','ap-south'])[1 + n % 3] AS region,
         interval '10 days' * ((abs(hashtextextended('start' || n, 0)) % 1000) / 1000.0) AS start_off
  FROM generate_series(1, ${NODES}) n
),
node_steps AS (
  SELECT nd.*, v,
         abs(hashtextextended(nd.node_id || ':' || v, 0)) % 10000 AS h,
         CASE
           WHEN nd.n % 100 = 0 AND v = nd.v_count THEN 'archive'
           WHEN v = 1 THEN 'create'
           WHEN v = 2 THEN 'add_sec'
           WHEN v = 3 THEN 'add_ep'
           WHEN v = 4 THEN 'add_db'
           ELSE (ARRAY['chg_ep','chg_sec','chg_db','chg_ep','chg_sec','chg_db','chg_ep','chg_sec',
                       'chg_db','chg_ep','chg_sec','chg_db','props','stop_ep','start_ep',
                       'rstop_sec','rstart_sec','chg_dbpw','rm_db','add_db'])[1 + (v - 5) % 20]
         END AS kind
  FROM nodes nd CROSS JOIN LATERAL generate_series(1, nd.v_count) v
),
node_rows AS (
  SELECT md5('event:' || node_id || ':' || v)::uuid AS event_id, node_id AS stream_id, v AS stream_version,
         node_id,
         CASE kind
           WHEN 'archive' THEN 'NodeArchived' WHEN 'create' THEN 'NodeCreated'
           WHEN 'props' THEN 'NodePropertiesChanged' WHEN 'rm_db' THEN 'ModuleRemoved'
           WHEN 'stop_ep' THEN 'ModuleStopped' WHEN 'rstop_sec' THEN 'ModuleStopped'
           WHEN 'start_ep' THEN 'ModuleStarted' WHEN 'rstart_sec' THEN 'ModuleStarted'
           ELSE CASE WHEN kind LIKE 'add_%' THEN 'ModuleAdded' ELSE 'ModuleConfigChanged' END
         END AS type,
         CASE kind
           WHEN 'archive' THEN '{}'::jsonb
           WHEN 'create' THEN jsonb_build_object('properties', jsonb_build_object(
             'server_port_offset', (n * 10)::text, 'region', region, 'db_password', '******'))
           WHEN 'add_sec' THEN jsonb_build_object('moduleId', 'local_security', 'type', 'local-security',
             'config', jsonb_build_object('sessions.timeout.mins', '30'), 'requires', '{}'::jsonb,
             'enabled', true, 'activation', 'all')
           WHEN 'add_ep' THEN jsonb_build_object('moduleId', ep, 'type', 'http-endpoint',
             'config', jsonb_build_object('port', '8000', 'message', 'hello'),
             'requires', jsonb_build_object('SECURITY_IN_UP', 'local_security'),
             'enabled', true, 'activation', 'all')
           WHEN 'add_db' THEN jsonb_build_object('moduleId', dbm, 'type', 'persistence',
             'config', jsonb_build_object('db.driver', 'POSTGRES_9_4', 'db.url',
               'jdbc:postgresql://db-' || n || ':5432/cdr', 'db.username', 'cdr', 'db.password', '******'),
             'requires', '{}'::jsonb, 'enabled', true, 'activation', 'single')
           WHEN 'chg_ep' THEN jsonb_build_object('moduleId', ep, 'changes', jsonb_build_array(
             jsonb_build_object('key', 'message', 'old', 'release ' || (v - 3), 'new', 'release ' || v)))
           WHEN 'chg_sec' THEN jsonb_build_object('moduleId', 'local_security', 'changes', jsonb_build_array(
             jsonb_build_object('key', 'sessions.timeout.mins', 'old', ((v - 3) % 50 + 15)::text,
               'new', (v % 50 + 15)::text)))
           WHEN 'chg_db' THEN jsonb_build_object('moduleId', dbm, 'changes', jsonb_build_array(
             jsonb_build_object('key', 'db.connectionpool.maxtotal', 'old', ((v - 3) % 40 + 10)::text,
               'new', (v % 40 + 10)::text)))
           WHEN 'chg_dbpw' THEN jsonb_build_object('moduleId', dbm, 'changes', jsonb_build_array(
             jsonb_build_object('key', 'db.password', 'old', '******', 'new', '******', 'secret', true)))
           WHEN 'props' THEN jsonb_build_object('changes', jsonb_build_array(jsonb_build_object(
             'key', 'log.level',
             'old', CASE WHEN v < 25 THEN NULL ELSE (ARRAY['INFO','DEBUG','WARN'])[1 + ((v - 20) / 20) % 3] END,
             'new', (ARRAY['INFO','DEBUG','WARN'])[1 + (v / 20) % 3])))
           WHEN 'stop_ep' THEN jsonb_build_object('moduleId', ep)
           WHEN 'start_ep' THEN jsonb_build_object('moduleId', ep)
           WHEN 'rstop_sec' THEN jsonb_build_object('moduleId', 'local_security', 'restart', true)
           WHEN 'rstart_sec' THEN jsonb_build_object('moduleId', 'local_security', 'restart', true)
           WHEN 'rm_db' THEN jsonb_build_object('moduleId', dbm)
         END AS payload,
         CASE kind
           WHEN 'create' THEN jsonb_build_object('properties', jsonb_build_object(
             'server_port_offset', (n * 10)::text, 'region', region, 'db_password', 'seed-node-pw-' || n))
           WHEN 'add_db' THEN jsonb_build_object('moduleId', dbm, 'type', 'persistence',
             'config', jsonb_build_object('db.driver', 'POSTGRES_9_4', 'db.url',
               'jdbc:postgresql://db-' || n || ':5432/cdr', 'db.username', 'cdr',
               'db.password', 'seed-db-pw-' || n || '-' || v),
             'requires', '{}'::jsonb, 'enabled', true, 'activation', 'single')
           WHEN 'chg_dbpw' THEN jsonb_build_object('moduleId', dbm, 'changes', jsonb_build_array(
             jsonb_build_object('key', 'db.password', 'old', 'seed-db-pw-' || n || '-' || (v - 13),
               'new', 'seed-db-pw-' || n || '-' || v, 'secret', true)))
         END AS secret_payload,
         jsonb_build_object(
           'actor', (${sqlText(ACTORS)})[1 + width_bucket(h, ARRAY[${ACTOR_BOUNDS.join(',')}])],
           -- one correlation ID per request; a restart's two events share theirs
           'correlationId', md5('corr:' || node_id || ':' || CASE WHEN kind = 'rstart_sec' THEN v - 1 ELSE v END)::uuid::text
         ) || CASE WHEN h % 20 = 0
                   THEN jsonb_build_object('reason', (${sqlText(REASONS)})[1 + h % ${REASONS.length}])
                   ELSE '{}'::jsonb END AS metadata,
         $1::timestamptz + start_off
           + (interval '${DAYS} days' - start_off - interval '1 hour') * ((v - 1 + (h % 1000) / 1250.0) / v_count)
           AS recorded_at
  FROM node_steps
),
procs AS (
  SELECT nd.n, nd.node_id, nd.ep, p,
         md5('process:' || nd.node_id || ':' || p)::uuid::text AS process_id,
         (abs(hashtextextended('pstart' || nd.n || ':' || p, 0)) % 100000) / 100000.0 AS p_frac,
         interval '1 hour' + interval '7 days' * ((abs(hashtextextended('pdur' || nd.n || ':' || p, 0)) % 1000) / 1000.0) AS p_dur
  FROM nodes nd CROSS JOIN LATERAL generate_series(1, (1000 - nd.v_count) / 20) p
),
proc_steps AS (
  SELECT procs.*, v,
         -- a process lives p_dur, starting anywhere so that it has left by now
         $1::timestamptz + (interval '${DAYS} days' - p_dur - interval '1 hour') * p_frac
           + p_dur * ((v - 1) / 19.0) AS at,
         abs(hashtextextended(process_id || ':' || v, 0)) % 10000 AS h
  FROM procs CROSS JOIN generate_series(1, 20) v
),
proc_rows AS (
  SELECT md5('event:' || process_id || ':' || v)::uuid AS event_id, 'process/' || process_id AS stream_id,
         v AS stream_version, node_id,
         CASE WHEN v = 1 THEN 'ProcessJoined'
              WHEN v = 20 THEN CASE WHEN p % 5 = 0 THEN 'ProcessLost' ELSE 'ProcessLeft' END
              WHEN h % 25 = 0 THEN 'ProcessConfigFailed'
              ELSE 'ProcessConfigApplied' END AS type,
         CASE WHEN v = 1 THEN jsonb_build_object('processId', process_id, 'nodeId', node_id,
                'host', 'host-' || (p % 8), 'pid', 1000 + p * 7, 'portOffset', (p - 1) * 100,
                'joinedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
              WHEN v = 20 AND p % 5 = 0 THEN jsonb_build_object('processId', process_id, 'nodeId', node_id,
                'lastSeenAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
              WHEN v = 20 THEN jsonb_build_object('processId', process_id, 'nodeId', node_id,
                'host', 'host-' || (p % 8), 'pid', 1000 + p * 7, 'portOffset', (p - 1) * 100,
                'leftAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
              WHEN h % 25 = 0 THEN jsonb_build_object('processId', process_id, 'nodeId', node_id,
                'version', v * 3, 'error', 'module ' || ep || ': port ' || (8000 + (p - 1) * 100) || ' is in use')
              ELSE jsonb_build_object('processId', process_id, 'nodeId', node_id, 'version', v * 3,
                'modules', jsonb_build_object(ep, jsonb_build_object('state', 'running', 'version', v * 3),
                  'local_security', jsonb_build_object('state', 'running', 'version', 2)))
         END AS payload,
         NULL::jsonb AS secret_payload,
         jsonb_build_object(
           'actor', CASE WHEN v = 20 AND p % 5 = 0 THEN 'failure-detector' ELSE 'process:' || process_id END,
           'correlationId', process_id) AS metadata,
         at AS recorded_at
  FROM proc_steps
)
INSERT INTO events (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata, recorded_at)
SELECT event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata, recorded_at
FROM (
  SELECT * FROM node_rows
  UNION ALL SELECT * FROM proc_rows
  UNION ALL SELECT event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata, recorded_at
            FROM bench_audit_deep
) AS all_events
ORDER BY recorded_at`;

/** The deep node's 10,000 events, decided and evolved by the domain code as the API would. */
function deepNodeEvents(start: Date): {
  rows: (NewEvent & { version: number; recordedAt: Date })[];
  document: NodeDocument;
} {
  const catalog = builtInModuleTypes();
  const secrets = testSecretsCipher(); // the key bench control planes run with
  const web = (port: number, message: string) => ({
    type: 'http-endpoint',
    config: { port: String(port), message },
    requires: {},
    enabled: true,
    activation: 'all' as const,
  });
  const command = (i: number): NodeCommand => {
    if (i === 0)
      return { kind: 'PutNode', properties: { region: 'eu-west', db_password: 'deep-secret-0' } };
    if (i === 1) return { kind: 'PutModule', moduleId: 'web', module: web(8000, 'hello') };
    if (i === 2) return { kind: 'PutModule', moduleId: 'api', module: web(8001, 'api') };
    if (i % 500 === 0)
      return {
        kind: 'PutNode',
        properties: { region: 'eu-west', db_password: `deep-secret-${i}` },
      };
    return {
      kind: 'PatchModuleConfig',
      moduleId: i % 2 ? 'web' : 'api',
      changes: { message: `release ${i}` },
    };
  };
  let doc = emptyNode(DEEP_NODE);
  const rows: (NewEvent & { version: number; recordedAt: Date })[] = [];
  const span = DAYS * 86_400_000 - 3_600_000;
  for (let i = 0; doc.version < DEEP_EVENTS; i++) {
    const events: NodeEvent[] = decide(doc, DEEP_NODE, command(i), catalog);
    const metadata: EventMetadata = {
      actor: ACTORS[i % 7],
      correlationId: randomUUID(),
      ...(i % 50 === 0 ? { reason: REASONS[i % REASONS.length] } : {}),
    };
    for (const event of events) {
      doc = evolve(doc, event);
      rows.push({
        ...toNewEvent(event, catalog, metadata, secrets),
        version: doc.version,
        recordedAt: new Date(start.getTime() + (span * (doc.version - 0.5)) / DEEP_EVENTS),
      });
    }
  }
  return { rows, document: doc };
}

/**
 * Rebuilds node_documents for every node stream from its events, and the snapshot every
 * SNAPSHOT_EVERY versions, as the command handler keeps them.
 */
async function projectNodeDocuments(db: Database, nodeIds: string[]) {
  for (let i = 0; i < nodeIds.length; i += 50) {
    const batch = nodeIds.slice(i, i + 50);
    const rows = await db.query<{ stream_id: string; type: string; data: any; recorded_at: Date }>(
      `SELECT stream_id, type, coalesce(secret_payload, payload) AS data, recorded_at FROM events
       WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
      [batch],
    );
    const docs = new Map<string, NodeDocument>();
    const snapshots: { doc: NodeDocument; at: Date }[] = [];
    for (const r of rows) {
      const doc = evolve(docs.get(r.stream_id) ?? emptyNode(r.stream_id), {
        type: r.type,
        data: r.data,
      } as NodeEvent);
      docs.set(r.stream_id, doc);
      if (doc.version % SNAPSHOT_EVERY === 0) snapshots.push({ doc, at: r.recorded_at });
    }
    const all = [...docs.values()];
    await db.query(
      `INSERT INTO node_documents (node_id, version, archived, document, updated_at)
       SELECT d.node_id, d.version, d.archived, d.document, now()
       FROM unnest($1::text[], $2::int[], $3::bool[], $4::jsonb[]) AS d(node_id, version, archived, document)`,
      [
        all.map((d) => d.nodeId),
        all.map((d) => d.version),
        all.map((d) => d.archived),
        all.map((d) => JSON.stringify(d)),
      ],
    );
    await db.query(
      `INSERT INTO node_snapshots (node_id, version, recorded_at, document)
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::jsonb[])`,
      [
        snapshots.map((s) => s.doc.nodeId),
        snapshots.map((s) => s.doc.version),
        snapshots.map((s) => s.at),
        snapshots.map((s) => JSON.stringify(s.doc)),
      ],
    );
  }
}

/**
 * Seeds `db` (already migrated) unless it holds this seed version's data. Returns the number of
 * events. The relay's checkpoint is set to the end of the log, so a control plane started on the
 * database does not publish a million bench events to the shared NATS.
 */
export async function ensureAuditSeed(db: Database): Promise<{ events: number; reused: boolean }> {
  await db.query(`CREATE TABLE IF NOT EXISTS bench_audit_seed (
    seed TEXT PRIMARY KEY, events BIGINT NOT NULL, seeded_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  const [marker] = await db.query<{ events: string }>(
    'SELECT events FROM bench_audit_seed WHERE seed = $1',
    [SEED_VERSION],
  );
  if (marker) return { events: Number(marker.events), reused: true };

  const start = new Date(Date.now() - DAYS * 86_400_000);
  const deep = deepNodeEvents(start);
  const began = performance.now();
  progress(`seeding ${GENERATED_EVENTS + DEEP_EVENTS} events (takes a few minutes, once)`);
  await db.transaction(async (sql) => {
    await sql.query(
      'TRUNCATE events, node_documents, node_snapshots, relay_checkpoints, processes, bench_audit_seed RESTART IDENTITY',
    );
    await sql.query(`SET LOCAL work_mem = '256MB'`);
    await sql.query(`CREATE TEMP TABLE bench_audit_deep ON COMMIT DROP AS
      SELECT event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata, recorded_at
      FROM events LIMIT 0`);
    await sql.query(
      `INSERT INTO bench_audit_deep (event_id, stream_id, stream_version, node_id, type, payload, secret_payload, metadata, recorded_at)
       SELECT e.id, $1, e.version, $1, e.type, e.payload, e.secret, e.metadata, e.at
       FROM unnest($2::uuid[], $3::int[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::timestamptz[])
            AS e(id, version, type, payload, secret, metadata, at)`,
      [
        DEEP_NODE,
        deep.rows.map((r) => r.eventId),
        deep.rows.map((r) => r.version),
        deep.rows.map((r) => r.type),
        deep.rows.map((r) => JSON.stringify(r.data)),
        deep.rows.map((r) => (r.secretData ? JSON.stringify(r.secretData) : null)),
        deep.rows.map((r) => JSON.stringify(r.metadata)),
        deep.rows.map((r) => r.recordedAt),
      ],
    );
    await sql.query(GENERATED_SQL, [start]);
  });
  progress(`events inserted in ${Math.round((performance.now() - began) / 1000)} s`);

  const nodeIds = [...Array.from({ length: NODES }, (_, i) => nodeName(i + 1)), DEEP_NODE];
  await projectNodeDocuments(db, nodeIds);
  const [stored] = await db.query<{ version: number; document: NodeDocument }>(
    'SELECT version, document FROM node_documents WHERE node_id = $1',
    [DEEP_NODE],
  );
  if (!isDeepStrictEqual(stored.document, deep.document))
    throw new Error(`${DEEP_NODE}: the projected document differs from the evolved one`);

  // Everything is "published": the relay starts at the end of the log.
  await db.query(`INSERT INTO relay_checkpoints (name, transaction_id, global_position)
    SELECT 'nats', transaction_id, global_position FROM events
    ORDER BY transaction_id DESC, global_position DESC LIMIT 1`);
  progress('VACUUM ANALYZE events');
  await db.query('VACUUM (ANALYZE) events');
  await db.query('VACUUM (ANALYZE) node_documents');
  await db.query('VACUUM (ANALYZE) node_snapshots');
  const [{ count }] = await db.query<{ count: string }>('SELECT count(*) FROM events');
  await db.query('INSERT INTO bench_audit_seed (seed, events) VALUES ($1, $2)', [
    SEED_VERSION,
    count,
  ]);
  progress(`seeded ${count} events in ${Math.round((performance.now() - began) / 1000)} s`);
  return { events: Number(count), reused: false };
}
