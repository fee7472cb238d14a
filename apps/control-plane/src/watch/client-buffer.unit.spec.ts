import { ClientBuffer, overBound } from './client-buffer';

describe('ClientBuffer', () => {
  it('counts the events whose bytes are still buffered, partial ones included', () => {
    const b = new ClientBuffer();
    b.wrote(100, true);
    b.wrote(15, false); // a keep-alive
    b.wrote(100, true);
    expect(b.eventsBuffered(215)).toBe(2);
    expect(b.eventsBuffered(150)).toBe(2); // the first one is partly out
    expect(b.eventsBuffered(115)).toBe(1);
    expect(b.eventsBuffered(0)).toBe(0);
    b.wrote(50, true);
    expect(b.eventsBuffered(50)).toBe(1);
  });

  it('forgets what went out, however many events pass', () => {
    const b = new ClientBuffer();
    for (let i = 0; i < 10_000; i++) {
      b.wrote(10, true);
      expect(b.eventsBuffered(i % 2 ? 0 : 10)).toBe(i % 2 ? 0 : 1);
    }
  });
});

describe('overBound', () => {
  const bound = { maxEvents: 3, maxBytes: 1000 };
  it('is null within the bound and says which bound was passed otherwise', () => {
    expect(overBound(3, 1000, bound)).toBeNull();
    expect(overBound(4, 10, bound)).toMatch(/more than 3 events.*Last-Event-ID/);
    expect(overBound(1, 1001, bound)).toMatch(/more than 1000 bytes/);
  });
});
