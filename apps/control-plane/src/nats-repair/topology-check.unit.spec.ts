import { lostStoreReason, TopologySnapshot } from './topology-check';

const seen: TopologySnapshot = {
  events: { created: '2026-01-01T00:00:00Z', lastSeq: 100 },
  nodes: { created: '2026-01-01T00:00:00Z', keys: 7 },
};

describe('lostStoreReason', () => {
  it('finds nothing wrong with the streams it saw before, grown', () => {
    expect(
      lostStoreReason(seen, { ...seen, events: { ...seen.events!, lastSeq: 120 } }),
    ).toBeNull();
  });

  it('names a missing events stream or bucket', () => {
    expect(lostStoreReason(seen, { ...seen, events: null })).toBe('the events stream is missing');
    expect(lostStoreReason(null, { ...seen, nodes: null })).toBe(
      'the node-document bucket is missing',
    );
  });

  it('notices a stream re-created by someone else (another creation time), even if it grew past the old sequence', () => {
    const recreated = { created: '2026-01-02T00:00:00Z', lastSeq: 500 };
    expect(lostStoreReason(seen, { ...seen, events: recreated })).toBe(
      'the events stream was re-created',
    );
    expect(
      lostStoreReason(seen, { ...seen, nodes: { created: '2026-01-02T00:00:00Z', keys: 7 } }),
    ).toBe('the node-document bucket was re-created');
  });

  it('notices the events sequence going backwards', () => {
    expect(lostStoreReason(seen, { ...seen, events: { ...seen.events!, lastSeq: 3 } })).toMatch(
      /went backwards \(from 100 to 3\)/,
    );
  });

  it('on a first look, compares the bucket with the documents Postgres has held for a while', () => {
    expect(lostStoreReason(null, seen, 7)).toBeNull();
    expect(lostStoreReason(null, seen, 9)).toBe(
      'the node-document bucket holds 7 nodes, Postgres 9',
    );
    // later looks rely on creation times and sequences, not on counts
    expect(lostStoreReason(seen, seen, 9)).toBeNull();
  });
});
