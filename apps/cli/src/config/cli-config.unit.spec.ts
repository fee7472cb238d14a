import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../exit-codes';
import {
  configPath,
  contextRows,
  readConfig,
  resolveConnection,
  setContext,
  useContext,
  writeConfig,
} from './cli-config';

const file = setContext(
  setContext({ contexts: {} }, 'prod', { url: 'https://prod.example:3000/', token: 'prod-secret' }),
  'dev',
  { url: 'http://127.0.0.1:3000' },
);

describe('CLI contexts', () => {
  it('lives in $XDG_CONFIG_HOME/plexus, else ~/.config/plexus', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x' })).toBe('/x/plexus/config.json');
    expect(configPath({ HOME: '/home/op' })).toBe('/home/op/.config/plexus/config.json');
  });

  it('makes the first context current and lists none of the tokens', () => {
    expect(file.currentContext).toBe('prod');
    const rows = contextRows(file);
    expect(rows).toEqual([
      { current: '*', name: 'prod', url: 'https://prod.example:3000/', token: 'set' },
      { current: '', name: 'dev', url: 'http://127.0.0.1:3000', token: 'none' },
    ]);
    expect(JSON.stringify(rows)).not.toContain('prod-secret');
  });

  it('resolves flags over environment over the current context', () => {
    expect(resolveConnection({}, {}, file)).toEqual({
      url: 'https://prod.example:3000',
      token: 'prod-secret',
      context: 'prod',
    });
    expect(
      resolveConnection({}, { PLEXUS_URL: 'http://env:1', PLEXUS_TOKEN: 't' }, file),
    ).toMatchObject({
      url: 'http://env:1',
      token: 't',
    });
    expect(
      resolveConnection({ url: 'http://flag:2' }, { PLEXUS_URL: 'http://env:1' }, file).url,
    ).toBe('http://flag:2');
    expect(resolveConnection({}, {}, useContext(file, 'dev'))).toMatchObject({ token: undefined });
    expect(resolveConnection({}, { PLEXUS_URL: '' }, file).url).toBe('https://prod.example:3000');
  });

  it('refuses a missing or malformed URL and an unknown context as usage errors', () => {
    expect(() => resolveConnection({}, {}, { contexts: {} })).toThrow(
      expect.objectContaining({ code: ExitCode.usage }),
    );
    expect(() => resolveConnection({ url: 'ftp://x' }, {}, file)).toThrow(/http:\/\/ or https/);
    expect(() => resolveConnection({ context: 'nope' }, {}, file)).toThrow(
      /no context named "nope"/,
    );
    expect(() => useContext(file, 'nope')).toThrow(/no context named/);
    expect(() => setContext(file, 'new', {})).toThrow(/--url is required/);
  });

  it('writes the file for its owner only and reads it back', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'plexus-cli-')), 'plexus', 'config.json');
    expect(readConfig(path)).toEqual({ contexts: {} });
    writeConfig(path, file);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readConfig(path)).toEqual(file);
    expect(JSON.parse(readFileSync(path, 'utf8')).contexts.prod.token).toBe('prod-secret');
  });
});
