import { EventMetadata, RecordedEvent, RecordedEventJson } from '@plexus/domain';

export type { EventMetadata };
/** An event as stored (see RecordedEvent in the domain). */
export type StoredEvent = RecordedEvent;

export interface NewEvent {
  eventId: string;
  type: string;
  /** Redacted payload. */
  data: Record<string, unknown>;
  /** `data` as JSON when the caller has it already (toNewEvent does). */
  dataJson?: string;
  /** The clear payload when it differs from `data` (it held secrets); never shown or published. */
  secretData?: Record<string, unknown>;
  metadata: EventMetadata;
}

/** Process lifecycle events go to a stream per process, so they never move a node's version. */
export const processStreamId = (processId: string) => `process/${processId}`;

/** A node's scaling events (policy, recommendations) have a stream of their own, for the same reason. */
export const scalingStreamId = (nodeId: string) => `scaling/${nodeId}`;

export interface EventRow {
  event_id: string;
  node_id: string;
  stream_id: string;
  stream_version: number;
  global_position: string;
  type: string;
  payload: Record<string, unknown>;
  secret_payload?: Record<string, unknown> | null;
  metadata: EventMetadata;
  recorded_at: Date;
  transaction_id?: string;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    eventId: row.event_id,
    nodeId: row.node_id,
    streamId: row.stream_id,
    version: row.stream_version,
    position: String(row.global_position),
    type: row.type,
    data: row.payload,
    metadata: row.metadata,
    recordedAt: row.recorded_at.toISOString(),
  };
}

/** An events row read with payload and metadata as JSON text (`payload::text`, `metadata::text`). */
export type EventJsonRow = Omit<EventRow, 'payload' | 'secret_payload' | 'metadata'> & {
  payload: string;
  metadata: string;
};

/** toStoredEvent for a row whose payload and metadata stay JSON text. */
export function toRecordedEventJson(row: EventJsonRow): RecordedEventJson {
  return {
    eventId: row.event_id,
    nodeId: row.node_id,
    streamId: row.stream_id,
    version: row.stream_version,
    position: String(row.global_position),
    type: row.type,
    dataJson: row.payload,
    metadataJson: row.metadata,
    recordedAt: row.recorded_at.toISOString(),
  };
}
