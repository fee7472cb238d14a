import { LatestDocumentQueue } from './latest-document-queue';

type Doc = { version: number; label?: string };

/** A queue whose apply waits until released, recording what it applied. */
function queue() {
  const applied: Doc[] = [];
  const logged: string[] = [];
  let release: (() => void) | null = null;
  let failNext = false;
  const q = new LatestDocumentQueue<Doc>(
    async (doc) => {
      await new Promise<void>((resolve) => (release = resolve));
      if (failNext) {
        failNext = false;
        throw new Error('bug');
      }
      applied.push(doc);
    },
    () => applied.at(-1) ?? null,
    {
      log: (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`),
      warn: () => undefined,
      error: (message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`),
    },
  );
  const step = async () => {
    for (let i = 0; i < 5 && !release; i++) await Promise.resolve();
    const r = release;
    release = null;
    r?.();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const drain = async () => {
    while (release || (await Promise.resolve(), release)) await step();
    await q.whenIdle();
  };
  return { q, applied, logged, step, drain, failNextApply: () => (failNext = true) };
}

describe('LatestDocumentQueue', () => {
  it('applies only the latest of the documents that arrive while one is applied', async () => {
    // given version 1 is being applied
    const { q, applied, logged, drain } = queue();
    expect(q.submit({ version: 1 })).toBe(true);
    // when 2 and 3 arrive meanwhile
    expect(q.submit({ version: 2 })).toBe(true);
    expect(q.submit({ version: 3 })).toBe(true);
    await drain();
    // then 3 replaces 2, which is never applied
    expect(applied.map((d) => d.version)).toEqual([1, 3]);
    expect(logged).toEqual([
      'node document superseded before it was applied {"skippedVersion":2,"version":3}',
    ]);
  });

  it('ignores a document not newer than the one applied, being applied or waiting', async () => {
    const { q, drain } = queue();
    q.submit({ version: 2 });
    expect(q.submit({ version: 2, label: 'in flight' })).toBe(false);
    q.submit({ version: 5 });
    expect(q.submit({ version: 4 })).toBe(false);
    await drain();
    expect(q.submit({ version: 5, label: 'applied' })).toBe(false);
    expect(q.submit({ version: 6 })).toBe(true);
    await drain();
  });

  it('applies the document applied last again when asked, and says when there is none', async () => {
    const { q, applied, drain } = queue();
    expect(q.applyAgain()).toBe(false);
    q.submit({ version: 1, label: 'first' });
    await drain();
    expect(q.applyAgain()).toBe(true);
    await drain();
    expect(applied.map((d) => d.label)).toEqual(['first', 'first']);
  });

  it('logs an apply that throws and goes on with the next document', async () => {
    const { q, applied, logged, drain, failNextApply } = queue();
    failNextApply();
    q.submit({ version: 1 });
    q.submit({ version: 2 });
    await drain();
    expect(applied.map((d) => d.version)).toEqual([2]);
    expect(logged).toContain('applying the node document failed {"version":1,"error":"bug"}');
  });

  it('drops what waits on close and ignores later documents; what is applied finishes', async () => {
    const { q, applied, drain } = queue();
    q.submit({ version: 1 });
    q.submit({ version: 2 });
    q.close();
    expect(q.closed).toBe(true);
    expect(q.submit({ version: 3 })).toBe(false);
    await drain();
    expect(applied.map((d) => d.version)).toEqual([1]);
  });
});
