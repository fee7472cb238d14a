import { NatsConnection } from 'nats';

/**
 * Whether a NATS connection is up right now, from its status events. Lets a health check
 * answer "down" at once during an outage instead of waiting for a round trip to time out.
 */
export class NatsConnectionState {
  private up = true;

  constructor(nc: NatsConnection, onChange?: (up: boolean) => void) {
    void (async () => {
      for await (const s of nc.status()) {
        const next = s.type === 'disconnect' ? false : s.type === 'reconnect' ? true : this.up;
        if (next !== this.up) {
          this.up = next;
          onChange?.(next);
        }
      }
    })();
    void nc.closed().then(() => (this.up = false));
  }

  get isUp() {
    return this.up;
  }
}
