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
