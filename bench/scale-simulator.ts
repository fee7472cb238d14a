/**
 * One OS process of bench:scale's simulated fleet (forked by scale.bench.ts, driven over IPC):
 * thousands of node-process identities on one NATS connection, each speaking the worker's
 * protocol through the same libs/bus functions the worker uses (apps/worker/src/worker.service.ts,
 * reporting/status.reporter.ts, seeding/):
 *
 * - seeding: the nodes assigned to it that have no document yet are created with the worker's
 *   seed request (request/reply through @nestjs/microservices, as ControlPlaneClient does);
 * - membership: `joined` and `left` on the membership stream (announceMembership);
 * - heartbeats: worker-shaped, every second per identity, each at its own phase in the second;
 * - applied reports: when a node's document changes, every live identity of that node reports
 *   the new version (publishAppliedReport) REPORT_DELAY_MS later, and heartbeats carry it.
 *
 * One KV watch of the node-document bucket per OS process (ResilientWatch over every key), not
 * one per identity: the documents are filtered by node here. No modules run: applying is free,
 * which is what a benchmark of the control plane wants.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connect, NatsConnection } from 'nats';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  announceMembership,
  decodeNodeDocument,
  Heartbeat,
  openNodesBucket,
  publishAppliedReport,
  publishHeartbeat,
  ResilientWatch,
  SeedNodeReply,
  SeedNodeRequest,
  seedNodeSubject,
} from '@plexus/bus';
import { ModuleStatus } from '@plexus/domain';
import { sleep } from '@plexus/common';
import type { SimulatorCommand, SimulatorMessage, StoppedIdentity } from './scale-protocol';

/** As the worker's StatusReporter: reports go out this long after the apply. */
const REPORT_DELAY_MS = 30;
const HEARTBEAT_MS = 1000;
/** Heartbeat phases: identities are spread over SLOTS ticks of the second. */
const SLOTS = 100;
const TICK_MS = HEARTBEAT_MS / SLOTS;
const HOST = hostname();

interface Identity {
  processId: string;
  nodeId: string;
  slot: number;
  /** When it last heartbeated (Date.now()); null before its first. */
  lastBeatAt: number | null;
  /** Set when it stops heartbeating (killed silently, or left). */
  stopped: 'killed' | 'left' | null;
}

const send = (message: SimulatorMessage) => process.send?.(message);

class Fleet {
  private readonly slots: Identity[][] = Array.from({ length: SLOTS }, () => []);
  private readonly byNode = new Map<string, Identity[]>();
  private readonly versions = new Map<string, number>();
  private readonly stoppedList: StoppedIdentity[] = [];
  private nextSlot = 0;
  private serial = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private churnTimer: NodeJS.Timeout | null = null;
  private lastTick = Date.now();
  private watch: ResilientWatch | null = null;
  private nodesSeen: (() => void) | null = null;
  heartbeatsSent = 0;
  reportsSent = 0;
  joined = 0;
  left = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly index: number,
    private readonly nodes: string[],
  ) {
    for (const nodeId of nodes) this.byNode.set(nodeId, []);
  }

  /** One watch of the whole bucket; resolves once every node of this process has a document. */
  async watchNodes(seed: string[], natsUrl: string) {
    const allSeen = new Promise<void>((resolve) => (this.nodesSeen = resolve));
    let current!: () => void;
    const firstCurrent = new Promise<void>((resolve) => (current = resolve));
    this.watch = ResilientWatch.start(this.nc, {
      bucket: () => openNodesBucket(this.nc),
      onEntry: (entry) => {
        const doc = decodeNodeDocument(entry);
        if (doc && this.byNode.has(doc.nodeId)) this.documentChanged(doc.nodeId, doc.version);
      },
      onCurrent: () => current(),
    });
    await firstCurrent;
    const missing = seed.filter((n) => !this.versions.has(n));
    await this.seed(missing, natsUrl);
    this.checkAllSeen();
    await allSeen;
  }

  private checkAllSeen() {
    if (this.nodesSeen && this.versions.size === this.byNode.size) {
      this.nodesSeen();
      this.nodesSeen = null;
    }
  }

  /** The worker's first start of a node (NodeSeedingService → ControlPlaneClient.seedNode). */
  private async seed(nodeIds: string[], natsUrl: string) {
    const client = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: { servers: [natsUrl], name: `bench-scale-seed-${this.index}` },
    });
    const properties = {
      'module.web.type': 'http-endpoint',
      'module.web.config.port': '8000',
      'module.web.config.message': 'hello',
    };
    let next = 0;
    const one = async (nodeId: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const reply = await firstValueFrom(
            client
              .send<SeedNodeReply, SeedNodeRequest>(seedNodeSubject(nodeId), {
                nodeId,
                processId: `seed-${nodeId}`,
                properties,
              })
              .pipe(timeout(10_000)),
          );
          if (reply.ok) return;
          if (reply.statusCode !== 503) throw new Error(`seed ${nodeId}: ${reply.message}`);
        } catch (err) {
          if (attempt >= 5) throw err;
        }
        await sleep(500 * attempt);
      }
    };
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < nodeIds.length; i = next++) await one(nodeIds[i]);
      }),
    );
    await client.close();
  }

  private documentChanged(nodeId: string, version: number) {
    if ((this.versions.get(nodeId) ?? 0) >= version) return;
    const first = !this.versions.has(nodeId);
    this.versions.set(nodeId, version);
    if (first) return this.checkAllSeen();
    // Applied at once (no modules run); reported REPORT_DELAY_MS later, as the worker does.
    const appliedAt = process.hrtime.bigint();
    const live = this.byNode.get(nodeId)!.filter((p) => !p.stopped);
    setTimeout(() => {
      for (const p of live)
        if (!p.stopped) {
          publishAppliedReport(this.nc, {
            processId: p.processId,
            nodeId,
            version,
            ok: true,
            hrtimeNs: appliedAt.toString(),
            modules: this.modules(version),
          });
          this.reportsSent++;
        }
    }, REPORT_DELAY_MS);
  }

  private modules(version: number): Record<string, ModuleStatus> {
    return { web: { state: 'running', version, details: { port: 8000, requests: 0 } } };
  }

  private heartbeat(p: Identity): Heartbeat {
    const version = this.versions.get(p.nodeId) ?? 0;
    return {
      processId: p.processId,
      nodeId: p.nodeId,
      host: HOST,
      pid: process.pid,
      portOffset: 0,
      appliedVersion: version,
      modules: this.modules(version),
      activeModules: [],
      at: new Date().toISOString(),
      load: { eventLoopUtilization: 0.01, requestsPerSec: 0 },
      health: { web: { status: 'UP' } },
    };
  }

  /** Heartbeats start at once, as in StatusReporter.join; the announcement is acked meanwhile. */
  private async join(nodeId: string) {
    const p: Identity = {
      processId: `sim-${this.index}-${(this.serial++).toString(36)}-${randomBytes(3).toString('hex')}`,
      nodeId,
      slot: this.nextSlot++ % SLOTS,
      lastBeatAt: null,
      stopped: null,
    };
    this.slots[p.slot].push(p);
    this.byNode.get(nodeId)!.push(p);
    await announceMembership(this.nc, {
      ...this.identity(p),
      what: 'joined',
      at: new Date().toISOString(),
    });
    this.joined++;
  }

  private identity(p: Identity) {
    return {
      processId: p.processId,
      nodeId: p.nodeId,
      host: HOST,
      pid: process.pid,
      portOffset: 0,
    };
  }

  /** Joins `nodeIds[i]` once per entry, 64 announcements in flight at a time. */
  async joinAll(nodeIds: string[]) {
    this.startHeartbeats();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let i = next++; i < nodeIds.length; i = next++) await this.join(nodeIds[i]);
      }),
    );
  }

  private startHeartbeats() {
    if (this.tickTimer) return;
    this.lastTick = Date.now();
    this.tickTimer = setInterval(() => {
      const now = Date.now();
      // Every slot whose moment fell in (lastTick, now] beats now (ticks may come late).
      const from = Math.floor(this.lastTick / TICK_MS);
      const to = Math.min(Math.floor(now / TICK_MS), from + SLOTS);
      for (let t = from + 1; t <= to; t++) {
        const slot = this.slots[t % SLOTS];
        for (let i = 0; i < slot.length; i++) {
          const p = slot[i];
          if (p.stopped) continue;
          if (publishHeartbeat(this.nc, this.heartbeat(p))) this.heartbeatsSent++;
          p.lastBeatAt = now;
        }
      }
      this.lastTick = now;
    }, TICK_MS);
  }

  /** Kills `count` identities silently (no `left`): they just stop heartbeating. */
  kill(count: number, exceptNodes: string[]): StoppedIdentity[] {
    const skip = new Set(exceptNodes);
    // Only identities that have heartbeated: detection is timed from the last heartbeat.
    const victims = this.live().filter((p) => !skip.has(p.nodeId) && p.lastBeatAt !== null);
    const step = Math.max(1, Math.floor(victims.length / count));
    const killed: StoppedIdentity[] = [];
    for (let i = 0; i < victims.length && killed.length < count; i += step) {
      const p = victims[i];
      p.stopped = 'killed';
      killed.push(this.stoppedRecord(p, 'killed'));
    }
    return killed;
  }

  private stoppedRecord(p: Identity, how: 'killed' | 'left'): StoppedIdentity {
    const record = {
      processId: p.processId,
      nodeId: p.nodeId,
      how,
      lastBeatAt: p.lastBeatAt ?? 0,
      stoppedAt: Date.now(),
    };
    this.stoppedList.push(record);
    return record;
  }

  private live() {
    return this.slots.flat().filter((p) => !p.stopped);
  }

  /**
   * Churn: every second `perSec` identities (not of `exceptNodes`) leave as a worker does on
   * SIGTERM (stop heartbeating, announce `left`) and as many new ones join the same nodes.
   */
  churn(perSec: number, exceptNodes: string[]) {
    if (this.churnTimer) clearInterval(this.churnTimer);
    if (perSec <= 0) return;
    const skip = new Set(exceptNodes);
    this.churnTimer = setInterval(() => {
      const candidates = this.live().filter((p) => !skip.has(p.nodeId));
      for (let i = 0; i < perSec && candidates.length; i++) {
        const [p] = candidates.splice(Math.floor(Math.random() * candidates.length), 1);
        p.stopped = 'left';
        this.stoppedRecord(p, 'left');
        void announceMembership(
          this.nc,
          { ...this.identity(p), what: 'left', at: new Date().toISOString() },
          { deadlineMs: 3000 },
        ).then(() => this.left++);
        void this.join(p.nodeId);
      }
    }, 1000);
  }

  stats() {
    return {
      heartbeatsSent: this.heartbeatsSent,
      reportsSent: this.reportsSent,
      joined: this.joined,
      left: this.left,
      live: this.live().length,
      stopped: this.stoppedList,
    };
  }

  async stop() {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.churnTimer) clearInterval(this.churnTimer);
    await this.watch?.stop();
  }
}

let fleet: Fleet | null = null;
let nc: NatsConnection | null = null;

process.on('message', (command: SimulatorCommand) => {
  void handle(command).catch((err) => {
    send({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  });
});

async function handle(command: SimulatorCommand) {
  switch (command.type) {
    case 'start': {
      nc = await connect({ servers: command.natsUrl, name: `bench-scale-sim-${command.index}` });
      const nodes = [...new Set(command.identities)];
      fleet = new Fleet(nc, command.index, nodes);
      await fleet.watchNodes(command.seed, command.natsUrl);
      send({ type: 'seeded' });
      await fleet.joinAll(command.identities);
      send({ type: 'joined', count: command.identities.length });
      return;
    }
    case 'churn':
      fleet!.churn(command.perSec, command.exceptNodes);
      return;
    case 'kill':
      send({ type: 'killed', killed: fleet!.kill(command.count, command.exceptNodes) });
      return;
    case 'stats':
      send({ type: 'stats', ...fleet!.stats() });
      return;
    case 'exit':
      await fleet?.stop();
      await nc?.drain().catch(() => undefined);
      process.exit(0);
  }
}
