/** Who made a change, in which request, and why. */
export interface EventMetadata {
  actor: string;
  correlationId: string;
  reason?: string;
  [key: string]: unknown;
}

/**
 * An event as recorded: the domain event plus where and when. The same shape is stored, answered
 * by the audit API and published on the events stream.
 */
export interface RecordedEvent {
  eventId: string;
  nodeId: string;
  streamId: string;
  version: number;
  position: string;
  type: string;
  /** Secrets redacted: safe to show, publish and log. */
  data: Record<string, unknown>;
  metadata: EventMetadata;
  recordedAt: string;
}

/**
 * A recorded event whose payload and metadata are still the JSON text the store gave: what the
 * relay reads and publishes. It only passes them on, and parsing them into objects to write them
 * out again was a tenth of the control plane's CPU time under load.
 */
export interface RecordedEventJson extends Omit<RecordedEvent, 'data' | 'metadata'> {
  dataJson: string;
  metadataJson: string;
}

/** The event with its payload and metadata parsed. */
export function parseRecordedEvent(e: RecordedEventJson): RecordedEvent {
  const { dataJson, metadataJson, ...rest } = e;
  return { ...rest, data: JSON.parse(dataJson), metadata: JSON.parse(metadataJson) };
}

/** The JSON of the RecordedEvent (keys in its order), spliced together rather than re-encoded. */
export function recordedEventJson(e: RecordedEventJson): string {
  const q = JSON.stringify;
  return (
    `{"eventId":${q(e.eventId)},"nodeId":${q(e.nodeId)},"streamId":${q(e.streamId)},` +
    `"version":${e.version},"position":${q(e.position)},"type":${q(e.type)},` +
    `"data":${e.dataJson},"metadata":${e.metadataJson},"recordedAt":${q(e.recordedAt)}}`
  );
}
