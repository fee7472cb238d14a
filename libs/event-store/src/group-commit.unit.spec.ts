import { GroupCommit, WriteAbandoned } from './group-commit';

/** A flush the test completes by hand, recording every batch it was given. */
function manualFlush() {
  const batches: {
    items: string[];
    finish: (results?: (boolean | Error)[]) => void;
    fail: (e: Error) => void;
  }[] = [];
  const flush = (items: string[]) =>
    new Promise<(boolean | Error)[]>((resolve, reject) =>
      batches.push({ items, finish: (r) => resolve(r ?? items.map(() => true)), fail: reject }),
    );
  return { batches, flush };
}
const keyOf = (item: string) => item.split(':')[0];
const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('sends a write at once while a slot is free, and gathers the ones that arrive meanwhile', async () => {
    const { batches, flush } = manualFlush();
    const gc = new GroupCommit(keyOf, flush, { maxInFlight: 1, maxBatch: 10 });
    const first = gc.submit('a:1');
    const later = ['b:1', 'c:1', 'd:1'].map((w) => gc.submit(w));
    expect(batches.map((b) => b.items)).toEqual([['a:1']]);
    batches[0].finish();
    await expect(first).resolves.toBe(true);
    await tick();
    expect(batches.map((b) => b.items)).toEqual([['a:1'], ['b:1', 'c:1', 'd:1']]);
    batches[1].finish([true, false, true]);
    await expect(Promise.all(later)).resolves.toEqual([true, false, true]);
  });

  it('puts at most one write per key in a batch; a later one of the same key waits its turn', async () => {
    const { batches, flush } = manualFlush();
    const gc = new GroupCommit(keyOf, flush, { maxInFlight: 1, maxBatch: 10 });
    void gc.submit('x:0');
    for (const w of ['a:1', 'a:2', 'b:1', 'a:3']) void gc.submit(w);
    batches[0].finish();
    await tick();
    expect(batches[1].items).toEqual(['a:1', 'b:1']);
    batches[1].finish();
    await tick();
    expect(batches[2].items).toEqual(['a:2']);
    batches[2].finish();
    await tick();
    expect(batches[3].items).toEqual(['a:3']);
  });

  it('keeps to maxInFlight and maxBatch', async () => {
    const { batches, flush } = manualFlush();
    const gc = new GroupCommit(keyOf, flush, { maxInFlight: 2, maxBatch: 2 });
    for (const w of ['a', 'b', 'c', 'd', 'e', 'f']) void gc.submit(w);
    expect(batches.map((b) => b.items)).toEqual([['a'], ['b']]);
    batches[0].finish();
    await tick();
    expect(batches.map((b) => b.items)).toEqual([['a'], ['b'], ['c', 'd']]);
  });

  it('fails one write alone when its result is an Error, and the whole batch when flush throws', async () => {
    const { batches, flush } = manualFlush();
    const gc = new GroupCommit(keyOf, flush, { maxInFlight: 1, maxBatch: 10 });
    void gc.submit('x');
    const [a, b] = [gc.submit('a'), gc.submit('b')];
    batches[0].finish();
    await tick();
    batches[1].finish([new Error('a refused'), true]);
    await expect(a).rejects.toThrow('a refused');
    await expect(b).resolves.toBe(true);
    void gc.submit('y'); // goes alone; c and d gather behind it
    const [c, d] = [gc.submit('c'), gc.submit('d')];
    batches[2].finish();
    await tick();
    expect(batches[3].items).toEqual(['c', 'd']);
    batches[3].fail(new Error('database down'));
    await expect(c).rejects.toThrow('database down');
    await expect(d).rejects.toThrow('database down');
  });

  it('drops a waiting write whose caller gave up; one already sent runs to its outcome', async () => {
    const { batches, flush } = manualFlush();
    const gc = new GroupCommit(keyOf, flush, { maxInFlight: 1, maxBatch: 10 });
    const sent = new AbortController();
    const first = gc.submit('a', sent.signal);
    const waiting = new AbortController();
    const dropped = gc.submit('b', waiting.signal);
    const kept = gc.submit('c');
    sent.abort();
    waiting.abort();
    await expect(dropped).rejects.toBeInstanceOf(WriteAbandoned);
    batches[0].finish();
    await expect(first).resolves.toBe(true);
    await tick();
    expect(batches.map((b) => b.items)).toEqual([['a'], ['c']]);
    batches[1].finish();
    await expect(kept).resolves.toBe(true);
    await expect(gc.submit('d', waiting.signal)).rejects.toBeInstanceOf(WriteAbandoned);
  });
});
