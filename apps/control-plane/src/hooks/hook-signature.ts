import { createHmac } from 'node:crypto';

/** Headers of a delivery: its ID (the same on every retry), the event type, and the signature. */
export const DELIVERY_HEADER = 'X-Plexus-Delivery';
export const EVENT_HEADER = 'X-Plexus-Event';
export const SIGNATURE_HEADER = 'X-Plexus-Signature';

/**
 * `sha256=<hex HMAC-SHA256 of the body bytes, keyed with the hook's secret>`: the receiver
 * computes the same over the raw body it got and compares in constant time.
 */
export function signDelivery(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
