import { sseMessages } from '../../../cli/src/watch/event-stream';
import { ApiClient, query } from './api-client';
import type { PlexusEvent } from './schema';

export interface WatchFilter {
  nodeId?: string;
  type?: string[];
}

/**
 * Follows GET /watch until `signal` aborts. EventSource cannot send an Authorization header and
 * /watch reads the token only from there (a token in the URL would land in logs), so this reads
 * the stream with fetch. After a drop it reconnects with the last position it saw, which the
 * server replays from, so no event is lost between two connections.
 */
export async function watchEvents(
  api: ApiClient,
  filter: WatchFilter,
  onEvent: (event: PlexusEvent) => void,
  signal: AbortSignal,
  onState: (state: 'live' | 'reconnecting') => void = () => undefined,
): Promise<void> {
  let lastId: string | undefined;
  while (!signal.aborted) {
    try {
      const path = `/watch${query({ nodeId: filter.nodeId, type: filter.type?.join(',') })}`;
      const res = await api.send(path, {
        signal,
        headers: lastId ? { 'last-event-id': lastId } : {},
      });
      if (!res.body) throw new Error('no stream');
      onState('live');
      for await (const message of sseMessages(res.body)) {
        if (message.event === 'error') break;
        if (message.id) lastId = message.id;
        onEvent(JSON.parse(message.data) as PlexusEvent);
      }
    } catch (err) {
      if (signal.aborted) return;
      if ((err as { status?: number }).status === 401) return;
    }
    onState('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
