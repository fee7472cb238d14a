import type { ModuleSpec, ModuleType } from '../api/schema';
import { configFields, configPatch, REDACTED } from './config-form';

const type = {
  type: 'local-security',
  secretKeys: ['users'],
  config: [
    { key: 'users', required: false, rules: [], secret: true, type: 'string' },
    {
      key: 'sessions.timeout.mins',
      required: false,
      rules: ['minimum: 1'],
      secret: false,
      type: 'integer',
    },
  ],
} as unknown as ModuleType;

const spec: ModuleSpec = {
  moduleId: 'sec',
  type: 'local-security',
  config: {
    users: REDACTED,
    'sessions.timeout.mins': '30',
    'extra.key': 'x',
    'db.password': REDACTED,
  },
  requires: {},
  enabled: true,
  activation: 'all',
  generation: 0,
};

describe('config editor rows and patch', () => {
  it('lists schema keys first, then unknown keys; secrets start empty, never redacted text', () => {
    const fields = configFields(spec, type);
    expect(fields.map((f) => f.key)).toEqual([
      'users',
      'sessions.timeout.mins',
      'db.password',
      'extra.key',
    ]);
    expect(fields.filter((f) => f.secret).map((f) => [f.key, f.value])).toEqual([
      ['users', ''],
      ['db.password', ''],
    ]);
    expect(fields.find((f) => f.key === 'sessions.timeout.mins')?.value).toBe('30');
  });

  it('sends nothing for an untouched form, so stored secrets are not overwritten', () => {
    expect(configPatch(configFields(spec, type))).toEqual({});
  });

  it('sends only changed keys: a typed secret, an edited value, a removed and an added key', () => {
    const fields = configFields(spec, type).map((f) =>
      f.key === 'users'
        ? { ...f, value: 'alice:hash' }
        : f.key === 'sessions.timeout.mins'
          ? { ...f, value: '45' }
          : f.key === 'extra.key'
            ? { ...f, removed: true }
            : f,
    );
    fields.push({ key: 'new.key', secret: false, stored: undefined, value: 'v', added: true });
    expect(configPatch(fields)).toEqual({
      users: 'alice:hash',
      'sessions.timeout.mins': '45',
      'extra.key': null,
      'new.key': 'v',
    });
  });

  it('an emptied plain value removes its key', () => {
    const fields = configFields(spec, type).map((f) =>
      f.key === 'sessions.timeout.mins' ? { ...f, value: '' } : f,
    );
    expect(configPatch(fields)).toEqual({ 'sessions.timeout.mins': null });
  });
});
