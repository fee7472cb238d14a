import type { NatsConnection } from 'nats';
import pino from 'pino';
import type { AppliedReport, Heartbeat, MembershipAnnouncement } from '@plexus/bus';
import type { ModuleStatus } from '@plexus/domain';
import { ApplyResult } from '@plexus/module-runtime';
import { WorkerOptions } from '../cli';
import { HEARTBEAT_MS, REPORT_DELAY_MS, StatusReporter } from './status.reporter';

/** A NATS connection that records what is published (core NATS and JetStream). */
function fakeNats() {
  const published: { subject: string; data: any }[] = [];
  const announced: MembershipAnnouncement[] = [];
  const nc = {
    isClosed: () => false,
    publish: (subject: string, data: string) => published.push({ subject, data: JSON.parse(data) }),
    jetstream: () => ({
      publish: async (_subject: string, data: string) => {
        announced.push(JSON.parse(data));
        return { seq: announced.length, duplicate: false };
      },
    }),
  };
  return { nc: nc as unknown as NatsConnection, published, announced };
}

const applied = (version: number): ApplyResult => ({
  nodeId: 'n',
  version,
  ok: true,
  hrtime: 123n,
  durationMs: 1,
  steps: [],
  modules: { web: { state: 'running', version } },
});

const newReporter = () =>
  new StatusReporter(
    { nodeId: 'n', portOffset: 7 } as WorkerOptions,
    pino({ level: 'silent' }),
    'p-1',
  );

describe('StatusReporter', () => {
  afterEach(() => jest.useRealTimers());

  it('batches applied reports: they go out together REPORT_DELAY_MS after the first', () => {
    jest.useFakeTimers();
    const { nc, published } = fakeNats();
    const reporter = newReporter();
    reporter.join(
      nc,
      { host: { appliedVersion: 0, detailedStatuses: () => ({}) }, leases: { held: () => [] } },
      () => false,
    );
    reporter.reportApplied(applied(1));
    jest.advanceTimersByTime(REPORT_DELAY_MS - 1);
    reporter.reportApplied(applied(2));
    expect(published).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(published.map((p) => p.data as AppliedReport)).toEqual([
      {
        processId: 'p-1',
        nodeId: 'n',
        version: 1,
        ok: true,
        hrtimeNs: '123',
        modules: { web: { state: 'running', version: 1 } },
      },
      {
        processId: 'p-1',
        nodeId: 'n',
        version: 2,
        ok: true,
        hrtimeNs: '123',
        modules: { web: { state: 'running', version: 2 } },
      },
    ]);
    reporter.stop();
  });

  it('heartbeats every HEARTBEAT_MS, naming the held modules that run as active', () => {
    jest.useFakeTimers();
    const { nc, published } = fakeNats();
    const modules: Record<string, ModuleStatus> = {
      solo: { state: 'running', version: 3 },
      standby: { state: 'stopped', version: 3 },
      web: { state: 'running', version: 3 },
    };
    const reporter = newReporter();
    reporter.join(
      nc,
      {
        host: { appliedVersion: 3, detailedStatuses: () => modules },
        leases: { held: () => ['solo', 'standby'] },
      },
      () => false,
    );
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(published).toHaveLength(1);
    const beat = published[0].data as Heartbeat;
    expect(beat).toMatchObject({
      processId: 'p-1',
      nodeId: 'n',
      portOffset: 7,
      pid: process.pid,
      appliedVersion: 3,
      modules,
      activeModules: ['solo'],
    });
    expect(beat.load).toBeDefined();
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(published).toHaveLength(2);
    reporter.stop();
  });

  it('on stop sends what is queued at once and heartbeats no more', () => {
    jest.useFakeTimers();
    const { nc, published } = fakeNats();
    const reporter = newReporter();
    reporter.join(
      nc,
      { host: { appliedVersion: 1, detailedStatuses: () => ({}) }, leases: { held: () => [] } },
      () => false,
    );
    reporter.reportApplied(applied(1));
    reporter.stop();
    expect(published.map((p) => (p.data as AppliedReport).version)).toEqual([1]);
    jest.advanceTimersByTime(10 * HEARTBEAT_MS);
    expect(published).toHaveLength(1);
  });

  it('announces joined, and left only after joining', async () => {
    jest.useFakeTimers(); // leave() waits at most 2.5 s for joined's ack: no timer left behind
    const { nc, announced } = fakeNats();
    const reporter = newReporter();
    await reporter.leave(); // never joined: nothing to announce
    expect(announced).toEqual([]);
    reporter.join(
      nc,
      { host: { appliedVersion: 0, detailedStatuses: () => ({}) }, leases: { held: () => [] } },
      () => false,
    );
    reporter.stop();
    await reporter.leave();
    expect(announced.map((a) => [a.what, a.processId, a.nodeId, a.portOffset])).toEqual([
      ['joined', 'p-1', 'n', 7],
      ['left', 'p-1', 'n', 7],
    ]);
  });

  it("carries each module's health in heartbeats, and beats at once when asked", () => {
    jest.useFakeTimers();
    const { nc, published } = fakeNats();
    const reporter = newReporter();
    let health: Record<string, { status: 'UP' | 'DOWN'; details?: Record<string, unknown> }> = {
      db: { status: 'UP' },
    };
    reporter.beatNow(); // not joined: nothing
    reporter.join(
      nc,
      {
        host: {
          appliedVersion: 2,
          detailedStatuses: () => ({
            db: { state: 'running', version: 2 },
            off: { state: 'stopped', version: 2 },
          }),
        },
        leases: { held: () => [] },
        health: () => health,
      },
      () => false,
    );
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(published[0].data as Heartbeat).toMatchObject({
      modules: { db: { state: 'running', version: 2 }, off: { state: 'stopped', version: 2 } },
      health: { db: { status: 'UP' } },
    });
    health = { db: { status: 'DOWN', details: { error: 'database unreachable' } } };
    reporter.beatNow();
    expect(published).toHaveLength(2);
    expect((published[1].data as Heartbeat).health).toEqual(health);
    expect(reporter.heartbeatsSent).toBe(2);
    reporter.stop();
    reporter.beatNow(); // stopped: nothing
    expect(published).toHaveLength(2);
  });
});
