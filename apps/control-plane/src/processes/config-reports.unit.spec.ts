import { ConfigReport } from '@plexus/event-store';
import { coalesce } from './config-reports.service';

const report = (processId: string, version: number, ok = true): [string, ConfigReport] => [
  `${processId}@${version}`,
  { processId, nodeId: 'n1', version, ok, modules: {}, receivedAt: new Date(0) },
];
const keys = (pending: [string, ConfigReport][]) => pending.map(([k]) => k);

describe('coalescing applied reports before recording them', () => {
  it('keeps only the latest success of each process', () => {
    expect(
      keys(coalesce([report('a', 1), report('b', 1), report('a', 2), report('a', 3)])),
    ).toEqual(['b@1', 'a@3']);
  });

  it('keeps every failure, and a success only when it is the latest', () => {
    expect(keys(coalesce([report('a', 1, false), report('a', 2), report('a', 3, false)]))).toEqual([
      'a@1',
      'a@3',
    ]);
    expect(keys(coalesce([report('a', 1, false), report('a', 2)]))).toEqual(['a@1', 'a@2']);
  });

  it('judges "latest" by version, not by arrival', () => {
    expect(keys(coalesce([report('a', 5), report('a', 4)]))).toEqual(['a@5']);
  });
});
