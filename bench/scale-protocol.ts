/** The IPC messages between bench:scale (scale.bench.ts) and its simulators (scale-simulator.ts). */

/** An identity that stopped heartbeating: killed silently, or left (announced). */
export interface StoppedIdentity {
  processId: string;
  nodeId: string;
  how: 'killed' | 'left';
  /** Its last heartbeat (Date.now()). */
  lastBeatAt: number;
  stoppedAt: number;
}

export type SimulatorCommand =
  /** `identities`: one node ID per identity to run; `seed`: the nodes this simulator creates. */
  | { type: 'start'; index: number; natsUrl: string; identities: string[]; seed: string[] }
  | { type: 'churn'; perSec: number; exceptNodes: string[] }
  | { type: 'kill'; count: number; exceptNodes: string[] }
  | { type: 'stats' }
  | { type: 'exit' };

export interface SimulatorStats {
  heartbeatsSent: number;
  reportsSent: number;
  joined: number;
  left: number;
  live: number;
  stopped: StoppedIdentity[];
}

export type SimulatorMessage =
  | { type: 'seeded' }
  | { type: 'joined'; count: number }
  | { type: 'killed'; killed: StoppedIdentity[] }
  | ({ type: 'stats' } & SimulatorStats)
  | { type: 'error'; message: string };
