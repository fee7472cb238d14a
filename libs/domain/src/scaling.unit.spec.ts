import {
  calculateReplicas,
  parseScalingPolicy,
  planSlots,
  recommendReplicas,
  ScalingPolicy,
  TimedRecommendation,
} from './scaling';

const policy = (over: Partial<ScalingPolicy> = {}): ScalingPolicy => ({
  min: 1,
  max: 10,
  target: 50,
  metric: 'eventLoopUtilization',
  scaleUpStabilization: 0,
  scaleDownStabilization: 300,
  ...over,
});

const T0 = 1_000_000;

/** given a policy, the current count and earlier recommendations, when the load is X, then N. */
function given(p: ScalingPolicy, currentReplicas: number, history: TimedRecommendation[] = []) {
  return {
    whenLoad: (samples: number[], now = T0) => {
      const result = recommendReplicas({ policy: p, currentReplicas, samples, history, now });
      return {
        thenDesired: (n: number) => {
          expect(result.desired).toBe(n);
          return result;
        },
      };
    },
  };
}

describe('HPA replica calculation', () => {
  it('scales by the ratio of the average load to the target, rounding up', () => {
    // 2 processes at 90% against 50%: ceil(2 × 1.8) = 4
    given(policy(), 2).whenLoad([90, 90]).thenDesired(4);
    // 4 processes at 10% against 50%: ceil(4 × 0.2) = 1
    given(policy({ scaleDownStabilization: 0 }), 4)
      .whenLoad([10, 10, 10, 10])
      .thenDesired(1);
  });

  it('changes nothing while the ratio is within the 10% tolerance', () => {
    given(policy(), 3).whenLoad([54, 55, 52]).thenDesired(3);
    given(policy({ scaleDownStabilization: 0 }), 3)
      .whenLoad([46, 45, 47])
      .thenDesired(3);
    given(policy(), 3).whenLoad([56, 56, 56]).thenDesired(4);
  });

  it('keeps the current count, at least min, without load data', () => {
    given(policy(), 3).whenLoad([]).thenDesired(3);
    given(policy({ min: 2 }), 1)
      .whenLoad([])
      .thenDesired(2);
    given(policy({ min: 0 }), 0)
      .whenLoad([])
      .thenDesired(0);
  });

  it('clamps to [min, max]', () => {
    given(policy({ max: 3 }), 1)
      .whenLoad([500])
      .thenDesired(3);
    given(policy({ min: 2, scaleDownStabilization: 0 }), 3)
      .whenLoad([0, 0, 0])
      .thenDesired(2);
  });

  it('counts processes that do not report yet as idle when scaling up, so a starting one causes no second step', () => {
    // 2 asked for, one reports 80 req/s against 50: as if (80 + 0) / 2 = 40 -> below target: hold at 2
    expect(calculateReplicas({ currentReplicas: 2, samples: [80], target: 50 })).toBe(2);
    // one reports 150: (150 + 0) / 2 = 75 -> ceil(2 × 1.5) = 3
    expect(calculateReplicas({ currentReplicas: 2, samples: [150], target: 50 })).toBe(3);
  });

  it('counts processes that do not report yet as at target when scaling down', () => {
    // 3 asked for, 2 report 10 against 50: (10 + 10 + 50) / 3 = 23.3 -> ceil(3 × 0.467) = 2
    expect(calculateReplicas({ currentReplicas: 3, samples: [10, 10], target: 50 })).toBe(2);
    // 3 asked for, 1 reports 40: (40 + 100) / 3 = 46.7, within tolerance -> hold at 3
    expect(calculateReplicas({ currentReplicas: 3, samples: [40], target: 50 })).toBe(3);
  });
});

describe('stabilisation windows', () => {
  it('scales down only to the highest recommendation within the down window', () => {
    const p = policy({ scaleDownStabilization: 60 });
    const history = [
      { at: T0 - 50_000, replicas: 4 },
      { at: T0 - 20_000, replicas: 3 },
    ];
    given(p, 4, history).whenLoad([5, 5, 5, 5]).thenDesired(4);
    // 55 s later the 4 has left the window; the 3 (and then the new 1) remain: down to 3
    given(p, 4, history)
      .whenLoad([5, 5, 5, 5], T0 + 15_000)
      .thenDesired(3);
    // once both have left the window, down to the load's 1
    given(p, 4, history)
      .whenLoad([5, 5, 5, 5], T0 + 45_000)
      .thenDesired(1);
  });

  it('scales up only to the lowest recommendation within the up window', () => {
    const p = policy({ scaleUpStabilization: 30 });
    given(p, 2, [{ at: T0 - 10_000, replicas: 2 }])
      .whenLoad([100, 100])
      .thenDesired(2);
    given(p, 2, [
      { at: T0 - 10_000, replicas: 3 },
      { at: T0 - 5_000, replicas: 5 },
    ])
      .whenLoad([100, 100])
      .thenDesired(3);
    given(p, 2, [{ at: T0 - 31_000, replicas: 2 }])
      .whenLoad([100, 100])
      .thenDesired(4);
  });

  it('scales up at once with the default 0 s up window', () => {
    given(policy(), 1, [{ at: T0 - 1, replicas: 1 }])
      .whenLoad([100])
      .thenDesired(2);
  });

  it('remembers the raw recommendation and forgets those older than both windows', () => {
    const p = policy({ scaleUpStabilization: 10, scaleDownStabilization: 20 });
    const result = given(p, 2, [
      { at: T0 - 25_000, replicas: 9 },
      { at: T0 - 5_000, replicas: 3 },
    ])
      .whenLoad([100, 100])
      .thenDesired(3);
    expect(result.raw).toBe(4);
    expect(result.history).toEqual([
      { at: T0 - 5_000, replicas: 3 },
      { at: T0, replicas: 4 },
    ]);
  });
});

describe('scaling policy validation', () => {
  const problem = (body: unknown) => parseScalingPolicy(body).problem;

  it('fills in the metric and the Kubernetes default windows', () => {
    expect(parseScalingPolicy({ min: 1, max: 3, target: 60 })).toEqual({
      policy: {
        min: 1,
        max: 3,
        target: 60,
        metric: 'eventLoopUtilization',
        scaleUpStabilization: 0,
        scaleDownStabilization: 300,
      },
    });
  });

  it('names the field and the rule', () => {
    expect(problem({ min: -1, max: 3, target: 5 })).toMatch(/^min must be an integer/);
    expect(problem({ min: 1.5, max: 3, target: 5 })).toMatch(/^min must be an integer/);
    expect(problem({ min: 1, max: 0, target: 5 })).toMatch(/^max must be an integer from 1/);
    expect(problem({ min: 4, max: 3, target: 5 })).toBe('max must be at least min (4)');
    expect(problem({ min: 1, max: 3, target: 0 })).toMatch(/^target must be a number greater/);
    expect(problem({ min: 1, max: 3, target: 150 })).toMatch(/^target must be at most 100/);
    expect(problem({ min: 1, max: 3, target: 150, metric: 'requestsPerSec' })).toBeUndefined();
    expect(problem({ min: 1, max: 3, target: 5, metric: 'cpu' })).toMatch(/^metric must be one/);
    expect(problem({ min: 1, max: 3, target: 5, scaleUpStabilization: -1 })).toMatch(
      /^scaleUpStabilization must be/,
    );
    expect(problem({ min: 1, max: 3, target: 5, scaleDownStabilization: '5' })).toMatch(
      /^scaleDownStabilization must be/,
    );
    expect(problem({ min: 1, max: 3, target: 5, replicas: 2 })).toMatch(
      /^replicas is not a known field/,
    );
    expect(problem([1])).toMatch(/^body must be a JSON object/);
  });
});

describe('supervisor slots', () => {
  it('starts the lowest free slots', () => {
    expect(planSlots([], 1)).toEqual({ start: [0], stop: [] });
    expect(planSlots([0, 2], 4)).toEqual({ start: [1, 3], stop: [] });
  });

  it('stops the highest slots first', () => {
    expect(planSlots([0, 1, 2, 3], 1)).toEqual({ start: [], stop: [3, 2, 1] });
    expect(planSlots([0, 1], 2)).toEqual({ start: [], stop: [] });
    expect(planSlots([1], 0)).toEqual({ start: [], stop: [1] });
  });
});
