import { NatsConnection, Status } from 'nats';

/**
 * Whether a NATS connection is up right now, from its status events. Lets a health check
 * answer "down" at once during an outage instead of waiting for a round trip to time out.
 */
export class NatsConnectionState {
  private up = true;

  constructor(nc: NatsConnection, onChange?: (up: boolean) => void) {
    listenToStatus(nc, (s) => {
      const next = s.type === 'disconnect' ? false : s.type === 'reconnect' ? true : this.up;
      if (next !== this.up) {
        this.up = next;
        onChange?.(next);
      }
    });
    void nc.closed().then(() => (this.up = false));
  }

  get isUp() {
    return this.up;
  }
}

type StatusListener = (s: Status) => void;
const statusListeners = new WeakMap<NatsConnection, Set<StatusListener>>();

/**
 * Calls `listener` with the connection's status events until the returned function is called.
 * One status iterator per connection serves every watch on it; it ends when the connection
 * closes, so nothing needs to stop it (nats.js types it as a plain AsyncIterable).
 */
export function listenToStatus(nc: NatsConnection, listener: StatusListener): () => void {
  let listeners = statusListeners.get(nc);
  if (!listeners) {
    const created = new Set<StatusListener>();
    listeners = created;
    statusListeners.set(nc, created);
    void (async () => {
      for await (const s of nc.status())
        for (const l of created)
          try {
            l(s);
          } catch {
            // a listener's failure is its own; the others still hear the news
          }
    })()
      .catch(() => undefined)
      .finally(() => statusListeners.delete(nc));
  }
  listeners.add(listener);
  const set = listeners;
  return () => void set.delete(listener);
}
