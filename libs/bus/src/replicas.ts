import { JetStreamManager, NatsConnection } from 'nats';
import { errorText, Logger, silentLogger } from '@plexus/common';

/** Replicas a stream gets by default on a cluster of three or more: a majority survives one loss. */
export const MAX_DEFAULT_REPLICAS = 3;

/**
 * How many replicas a stream or bucket gets when nobody says: the number of servers in the NATS
 * cluster this connection reached (its INFO lists every server's client URL, its own included),
 * at most MAX_DEFAULT_REPLICAS; 1 on a server outside a cluster.
 */
export function clusterReplicas(nc: NatsConnection): number {
  const info = nc.info;
  if (!info?.cluster) return 1;
  const servers = new Set(info.connect_urls ?? []).size;
  return Math.max(1, Math.min(MAX_DEFAULT_REPLICAS, servers));
}

/**
 * Brings existing streams to `replicas`. JetStream changes a clustered stream's replica count in
 * place (new replicas catch up from the leader; the data stays); when it refuses (fewer servers
 * than asked, a single server), the stream is left as it is and the refusal logged. A missing
 * stream is skipped. Never deletes anything. With `raiseOnly` a stream with more replicas keeps
 * them: a count guessed from the servers up right now (clusterReplicas while one is down) must
 * not thin out what an operator or an earlier start set.
 */
export async function alignReplicas(
  jsm: JetStreamManager,
  streams: readonly string[],
  replicas: number,
  options: { raiseOnly?: boolean; logger?: Logger } = {},
): Promise<void> {
  const logger = options.logger ?? silentLogger;
  for (const stream of streams) {
    const info = await jsm.streams.info(stream).catch(() => null);
    const current = info?.config.num_replicas ?? replicas;
    if (!info || current === replicas || (options.raiseOnly && current > replicas)) continue;
    try {
      await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
      logger.log('stream replicas changed', { stream, from: current, to: replicas });
    } catch (err) {
      logger.warn('cannot change the replicas of a stream; it keeps its own', {
        stream,
        replicas: current,
        wanted: replicas,
        error: errorText(err),
      });
    }
  }
}
