/**
 * Autoscaling the way Kubernetes' Horizontal Pod Autoscaler does it: a desired process count from
 * the ratio of the measured load to a target, a tolerance band, stabilisation windows and min/max.
 * Pure: the control plane feeds it heartbeats and a clock.
 */

export const SCALING_METRICS = ['eventLoopUtilization', 'requestsPerSec'] as const;
export type ScalingMetric = (typeof SCALING_METRICS)[number];

/** Kubernetes' defaults: scale up at once, scale down only after 5 minutes of lower load. */
export const DEFAULT_SCALE_UP_STABILIZATION_S = 0;
export const DEFAULT_SCALE_DOWN_STABILIZATION_S = 300;
/** Kubernetes' --horizontal-pod-autoscaler-tolerance default. */
export const SCALING_TOLERANCE = 0.1;
/** A stabilisation window longer than an hour is surely a mistake (Kubernetes allows one hour). */
export const MAX_STABILIZATION_S = 3600;

export interface ScalingPolicy {
  min: number;
  max: number;
  /**
   * Average per process: percent of event-loop utilisation (1–100, like HPA's CPU utilisation)
   * for `eventLoopUtilization`, requests per second for `requestsPerSec`.
   */
  target: number;
  metric: ScalingMetric;
  /** Seconds. */
  scaleUpStabilization: number;
  scaleDownStabilization: number;
}

/** A raw recommendation as the window logic remembers it (ms since the epoch). */
export interface TimedRecommendation {
  at: number;
  replicas: number;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks a policy as sent by a caller and fills in the defaults. Returns the policy, or the first
 * problem as a message naming the field and the rule.
 */
export function parseScalingPolicy(
  raw: unknown,
): { policy: ScalingPolicy; problem?: undefined } | { problem: string } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    return { problem: 'body must be a JSON object {min, max, target, ...}' };
  const body = raw as Record<string, unknown>;
  const known = [
    'min',
    'max',
    'target',
    'metric',
    'scaleUpStabilization',
    'scaleDownStabilization',
  ];
  const unknown = Object.keys(body).find((k) => !known.includes(k));
  if (unknown) return { problem: `${unknown} is not a known field (known: ${known.join(', ')})` };
  const { min, max, target } = body;
  if (!isInt(min) || min < 0 || min > 1000)
    return { problem: 'min must be an integer from 0 to 1000' };
  if (!isInt(max) || max < 1 || max > 1000)
    return { problem: 'max must be an integer from 1 to 1000' };
  if (max < min) return { problem: `max must be at least min (${min})` };
  const metric = body.metric ?? 'eventLoopUtilization';
  if (typeof metric !== 'string' || !(SCALING_METRICS as readonly string[]).includes(metric))
    return { problem: `metric must be one of ${SCALING_METRICS.join(', ')}` };
  if (!isNumber(target) || target <= 0)
    return { problem: 'target must be a number greater than 0' };
  if (metric === 'eventLoopUtilization' && target > 100)
    return {
      problem: 'target must be at most 100 for eventLoopUtilization (a percentage per process)',
    };
  const windows: Record<string, number> = {};
  for (const [field, fallback] of [
    ['scaleUpStabilization', DEFAULT_SCALE_UP_STABILIZATION_S],
    ['scaleDownStabilization', DEFAULT_SCALE_DOWN_STABILIZATION_S],
  ] as const) {
    const value = body[field] ?? fallback;
    if (!isNumber(value) || value < 0 || value > MAX_STABILIZATION_S)
      return { problem: `${field} must be a number of seconds from 0 to ${MAX_STABILIZATION_S}` };
    windows[field] = value;
  }
  return {
    policy: {
      min,
      max,
      target,
      metric: metric as ScalingMetric,
      scaleUpStabilization: windows.scaleUpStabilization,
      scaleDownStabilization: windows.scaleDownStabilization,
    },
  };
}

export const clampReplicas = (replicas: number, policy: Pick<ScalingPolicy, 'min' | 'max'>) =>
  Math.min(policy.max, Math.max(policy.min, replicas));

/**
 * The count to run right after a policy is set: the current recommendation (or, without one, the
 * live process count) brought within [min, max].
 */
export const desiredAfterPolicy = (current: number, policy: ScalingPolicy) =>
  clampReplicas(current, policy);

export interface ReplicaCalculation {
  /** The count currently asked for (HPA's spec.replicas): the last recommendation. */
  currentReplicas: number;
  /** The metric of every live process that reported one (per process, in the policy's unit). */
  samples: number[];
  target: number;
  tolerance?: number;
}

/**
 * HPA's replica calculation (kubernetes pkg/controller/podautoscaler/replica_calculator.go):
 * usage ratio = average sample / target; within the tolerance nothing changes, else
 * ceil(ratio × processes). Processes asked for but not reporting yet (starting) count as idle
 * when scaling up and as at target when scaling down, and a move that this flips or brings within
 * the tolerance is not made, so a process that is still starting causes no flapping.
 */
export function calculateReplicas(input: ReplicaCalculation): number {
  const { currentReplicas, samples, target } = input;
  const tolerance = input.tolerance ?? SCALING_TOLERANCE;
  if (!samples.length) return currentReplicas;
  const sum = samples.reduce((a, b) => a + b, 0);
  const ratio = sum / samples.length / target;
  if (Math.abs(ratio - 1) <= tolerance) return currentReplicas;
  const missing = Math.max(0, currentReplicas - samples.length);
  if (!missing) return Math.ceil(ratio * samples.length);
  const total = samples.length + missing;
  const adjusted = ratio > 1 ? sum / total / target : (sum + missing * target) / total / target;
  if (Math.abs(adjusted - 1) <= tolerance || adjusted > 1 !== ratio > 1) return currentReplicas;
  return Math.ceil(adjusted * total);
}

export interface RecommendInput {
  policy: ScalingPolicy;
  currentReplicas: number;
  /** Per live process with load data; empty when there is none (or no live process). */
  samples: number[];
  /** Raw recommendations of earlier evaluations (any age: older ones are ignored). */
  history: TimedRecommendation[];
  now: number;
}

export interface Recommendation {
  /** The count to run: stabilised and within [min, max]. */
  desired: number;
  /** This evaluation's raw recommendation, before stabilisation and min/max. */
  raw: number;
  /** The history to pass next time: this one added, those older than both windows dropped. */
  history: TimedRecommendation[];
  reason: string;
}

/**
 * One evaluation. Stabilisation as in Kubernetes' stabilizeRecommendationWithBehaviors: scaling
 * up goes no higher than the lowest raw recommendation within the up window, scaling down no
 * lower than the highest within the down window; then min/max. No load data keeps the current
 * count (at least min).
 */
export function recommendReplicas(input: RecommendInput): Recommendation {
  const { policy, currentReplicas, samples, now } = input;
  const raw = calculateReplicas({ currentReplicas, samples, target: policy.target });
  const upCutoff = now - policy.scaleUpStabilization * 1000;
  const downCutoff = now - policy.scaleDownStabilization * 1000;
  let up = raw;
  let down = raw;
  for (const r of input.history) {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
  }
  let stabilised = currentReplicas;
  if (stabilised < up) stabilised = up;
  if (stabilised > down) stabilised = down;
  const desired = clampReplicas(stabilised, policy);
  const keepAfter = Math.min(upCutoff, downCutoff);
  const history = [...input.history.filter((r) => r.at > keepAfter), { at: now, replicas: raw }];
  const reason = !samples.length
    ? 'no load data from live processes: keeping the current count'
    : desired !== stabilised
      ? `the load asks for ${stabilised}, limited to [${policy.min}, ${policy.max}]`
      : stabilised !== raw
        ? `the load asks for ${raw}, held at ${stabilised} by the ${raw > currentReplicas ? 'scale-up' : 'scale-down'} stabilisation window`
        : raw === currentReplicas
          ? 'the load is within the tolerance of the target'
          : `average ${policy.metric} is ${raw > currentReplicas ? 'above' : 'below'} the target`;
  return { desired, raw, history, reason };
}

/**
 * What a supervisor does to run `desired` processes in numbered slots: start the lowest free slots,
 * stop the highest running ones.
 */
export function planSlots(running: number[], desired: number): { start: number[]; stop: number[] } {
  const sorted = [...new Set(running)].sort((a, b) => a - b);
  if (sorted.length > desired)
    return { start: [], stop: sorted.slice(desired).sort((a, b) => b - a) };
  const start: number[] = [];
  for (let slot = 0; sorted.length + start.length < desired; slot++)
    if (!sorted.includes(slot)) start.push(slot);
  return { start, stop: [] };
}
