import type { ClientProxy } from '@nestjs/microservices';
import { natsAuthOptions, SeedNodeReply, SeedNodeRequest, seedNodeSubject } from '@plexus/bus';
import { WorkerOptions } from '../cli';
import type { Logger } from 'pino';
import { sleep } from '@plexus/common';

function reasonOf(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time'; // rxjs timeout()
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String(err.message);
  return String(err);
}

/**
 * Requests to the control plane over NATS request/reply, through @nestjs/microservices (the
 * control plane serves them with @MessagePattern). Used once, to seed a brand-new node, so Nest's
 * client and rxjs are loaded only then: a worker of an existing node never loads them (they are
 * about a quarter of an idle worker's resident memory).
 */
export class ControlPlaneClient {
  /** Per attempt; backoff between attempts grows to maxBackoffMs. */
  requestTimeoutMs = 5000;
  maxBackoffMs = 10_000;

  constructor(
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
  ) {}

  private async createClient(): Promise<ClientProxy> {
    const { ClientProxyFactory, Transport } = await import('@nestjs/microservices');
    return ClientProxyFactory.create({
      transport: Transport.NATS,
      options: {
        name: 'plexus-worker-seed',
        inboxPrefix: this.options.natsInboxPrefix,
        ...natsAuthOptions(this.options.natsUrl, this.options.natsCredsFile ?? undefined),
      },
    });
  }

  /**
   * Asks the control plane to create the node (first request wins). Retries with backoff while
   * the control plane does not answer or answers 503, saying so in the log; any other answer
   * (ok or a refusal) is returned.
   */
  async seedNode(
    request: SeedNodeRequest,
    cancelled: () => boolean,
  ): Promise<SeedNodeReply | null> {
    const client = await this.createClient();
    const { firstValueFrom, timeout } = await import('rxjs');
    const subject = seedNodeSubject(request.nodeId);
    try {
      for (let attempt = 1, backoff = 500; !cancelled(); attempt++) {
        try {
          const reply = await firstValueFrom(
            client
              .send<SeedNodeReply, SeedNodeRequest>(subject, request)
              .pipe(timeout(this.requestTimeoutMs)),
          );
          if (reply.ok || reply.statusCode !== 503) return reply;
          this.logger.warn(
            { attempt, retryInMs: backoff, statusCode: reply.statusCode, reason: reply.message },
            'control plane cannot create the node right now; retrying',
          );
        } catch (err) {
          // The client refuses to send it: no retry can help, the file is too large.
          if ((err as { code?: string })?.code === 'MAX_PAYLOAD_EXCEEDED')
            return {
              ok: false,
              statusCode: 413,
              message: `the request with the properties file is ${Buffer.byteLength(JSON.stringify(request))} bytes, more than the NATS server's max_payload allows in one message`,
            };
          this.logger.warn(
            { attempt, retryInMs: backoff, subject, reason: reasonOf(err) },
            'control plane did not answer the seed request; retrying',
          );
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
      return null;
    } finally {
      await client.close();
    }
  }
}
