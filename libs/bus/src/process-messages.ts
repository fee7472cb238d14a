import { NatsConnection } from 'nats';
import { AppliedReport, Heartbeat, MembershipAnnouncement } from './messages';
import { appliedSubject, heartbeatSubject, MEMBERSHIP_STREAM, membershipSubject } from './names';
import { errorText, Logger, sleep } from '@plexus/common';

export interface AnnounceOptions {
  logger?: Logger;
  /** Give up after this long (default: never). */
  deadlineMs?: number;
  /** Wait for one acknowledgement at most this long (default 2000 ms). */
  attemptTimeoutMs?: number;
  /** Checked between attempts; a true value stops retrying. */
  cancelled?: () => boolean;
}

/**
 * Publishes a joined/left announcement on the membership stream and retries (backing off to 2 s)
 * until JetStream acknowledges it, so an announcement made while NATS or the stream is down
 * arrives once they are back. The msg-id `${processId}-${what}` makes the retries harmless.
 * Resolves true when acknowledged, false when the deadline passed or it was cancelled.
 */
export async function announceMembership(
  nc: NatsConnection,
  announcement: MembershipAnnouncement,
  options: AnnounceOptions = {},
): Promise<boolean> {
  const { nodeId, processId, what } = announcement;
  const subject = membershipSubject(nodeId, processId, what);
  const msgID = `${processId}-${what}`;
  const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
  const js = nc.jetstream();
  const data = JSON.stringify(announcement);
  for (let attempt = 1, delay = 100; ; attempt++, delay = Math.min(delay * 2, 2000)) {
    const left = deadline - Date.now();
    try {
      const timeout = Math.max(100, Math.min(options.attemptTimeoutMs ?? 2000, left));
      const ack = await js.publish(subject, data, {
        msgID,
        timeout,
        expect: { streamName: MEMBERSHIP_STREAM },
      });
      options.logger?.log(`announced ${what}`, { subject, seq: ack.seq, duplicate: ack.duplicate });
      return true;
    } catch (err) {
      if (nc.isClosed()) return false;
      const wait = Math.min(delay, Math.max(0, deadline - Date.now()));
      options.logger?.warn(`announcing ${what} failed; retrying`, {
        attempt,
        retryInMs: wait,
        error: errorText(err),
      });
      if (Date.now() + wait >= deadline || options.cancelled?.()) return false;
      await sleep(wait);
      if (options.cancelled?.()) return false;
    }
  }
}

/** Core NATS, fire and forget: false when the connection is closed. */
function publishJson(nc: NatsConnection, subject: string, message: unknown): boolean {
  if (nc.isClosed()) return false;
  try {
    nc.publish(subject, JSON.stringify(message));
    return true;
  } catch {
    return false;
  }
}

export const publishHeartbeat = (nc: NatsConnection, heartbeat: Heartbeat) =>
  publishJson(nc, heartbeatSubject(heartbeat.nodeId, heartbeat.processId), heartbeat);

export const publishAppliedReport = (nc: NatsConnection, report: AppliedReport) =>
  publishJson(nc, appliedSubject(report.nodeId, report.processId), report);
