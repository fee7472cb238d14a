import { parseRecordedEvent, RecordedEvent, recordedEventJson } from './recorded-event';

describe('recorded events as JSON text', () => {
  const event: RecordedEvent = {
    eventId: '0b6c1f5e-0000-4000-8000-000000000001',
    nodeId: 'node-1',
    streamId: 'node-1',
    version: 7,
    position: '1234',
    type: 'ModuleConfigChanged',
    data: { moduleId: 'web', changes: [{ key: 'message', old: 'a "quoted"\nline', new: 'é' }] },
    metadata: { actor: 'admin', correlationId: 'c-1', reason: 'because' },
    recordedAt: '2026-12-06T03:15:00.123Z',
  };
  // what Postgres answers for a jsonb column as text: its own spacing, same values
  const asStored = {
    ...event,
    dataJson:
      '{"changes": [{"key": "message", "new": "é", "old": "a \\"quoted\\"\\nline"}], "moduleId": "web"}',
    metadataJson: '{"actor": "admin", "reason": "because", "correlationId": "c-1"}',
  };
  delete (asStored as Partial<RecordedEvent>).data;
  delete (asStored as Partial<RecordedEvent>).metadata;

  it('spliced JSON reads back as the event itself, keys in the same order', () => {
    const json = recordedEventJson(asStored);
    expect(JSON.parse(json)).toEqual(event);
    expect(Object.keys(JSON.parse(json))).toEqual(Object.keys(event));
  });

  it('parses to the event', () => {
    expect(parseRecordedEvent(asStored)).toEqual(event);
  });
});
