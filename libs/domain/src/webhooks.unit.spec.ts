import { HOOK_EVENT_TYPES, hookWants, retryCeilingMs, retryDelayMs } from './webhooks';

describe('webhook event selection', () => {
  it('given a hook on ProcessLost, when a ProcessLost or a ProcessJoined is recorded, then it wants only the first', () => {
    expect(hookWants(['ProcessLost'], 'ProcessLost')).toBe(true);
    expect(hookWants(['ProcessLost'], 'ProcessJoined')).toBe(false);
  });

  it('given a hook on *, then it wants every event type', () => {
    for (const type of HOOK_EVENT_TYPES) expect(hookWants(['*'], type)).toBe(true);
  });

  it('offers the process, scaling and node configuration events', () => {
    expect(HOOK_EVENT_TYPES).toEqual(
      expect.arrayContaining([
        'ProcessJoined',
        'ProcessLeft',
        'ProcessLost',
        'ProcessConfigFailed',
        'ScaleRecommended',
        'ModuleConfigChanged',
        'NodeCreated',
      ]),
    );
  });
});

describe('retry delay (exponential backoff, full jitter)', () => {
  const schedule = { baseMs: 1000, capMs: 300_000 };

  it('given the highest draw, the delay doubles with every failed attempt up to the cap', () => {
    const highest = () => 0.999999;
    const delays = [1, 2, 3, 4, 5, 9, 10, 40].map((n) => retryDelayMs(n, schedule, highest));
    expect(delays).toEqual([999, 1999, 3999, 7999, 15_999, 255_999, 299_999, 299_999]);
  });

  it('given the lowest draw, the delay is 0: full jitter spreads retries over the whole window', () => {
    expect(retryDelayMs(7, schedule, () => 0)).toBe(0);
  });

  it('never exceeds the ceiling of its attempt, whatever the draw', () => {
    for (let attempt = 1; attempt <= 12; attempt++)
      for (let i = 0; i < 50; i++) {
        const d = retryDelayMs(attempt, schedule);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(retryCeilingMs(attempt, schedule));
      }
    expect(retryCeilingMs(1, schedule)).toBe(1000);
    expect(retryCeilingMs(100, schedule)).toBe(300_000);
  });
});
