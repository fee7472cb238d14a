import { RecordedEvent } from '@plexus/domain';

/**
 * Server-Sent Events framing. JSON.stringify escapes every line break, so one `data:` line
 * always holds a whole JSON value.
 */
export const eventFrame = (event: RecordedEvent) =>
  `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

export const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

/** The last message of a stream the server ends: why, as `{message}`. */
export const errorFrame = (message: string) =>
  `event: error\ndata: ${JSON.stringify({ message })}\n\n`;
