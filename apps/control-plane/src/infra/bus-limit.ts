import { NatsConnection } from 'nats';

/** Room left in every message for what the relay adds around the JSON: headers and subject. */
export const BUS_HEADROOM_BYTES = 8 * 1024;
/** nats-server's default max_payload, for the moment before a connection has its INFO. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * The largest event or node document a write may produce: the NATS server's max_payload, as
 * announced on the control plane's connection (and again after each reconnect), less
 * BUS_HEADROOM_BYTES. A write over it would stop the relay, so it is refused with 413.
 */
export class BusLimit {
  constructor(private readonly nc: NatsConnection) {}

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  get bytes(): number {
    return Math.max(0, this.maxPayload - BUS_HEADROOM_BYTES);
  }
}
