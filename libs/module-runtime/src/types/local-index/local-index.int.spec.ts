import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInModuleTypes } from '../../built-in-types';
import { moduleContext } from '../../testing/module-context';
import { localIndexType } from './local-index.module-type';

/** local-index against the real disk: the lock that makes it unsafe with a second process. */
const start = (config: Record<string, string>) =>
  localIndexType.start(moduleContext(config, { moduleId: 'idx' }));

describe('local-index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plexus-index-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('owns its directory while it runs, and gives it up when stopped', async () => {
    const path = join(dir, 'a');
    const index = await start({ 'index.path': path });
    expect(readFileSync(join(path, 'LOCK'), 'utf8')).toBe(String(process.pid));
    expect(await index.health()).toMatchObject({ status: 'UP', details: { path } });
    await index.stop();
    expect(existsSync(join(path, 'LOCK'))).toBe(false);
  });

  it('refuses to start while another live process holds the index, naming it', async () => {
    const path = join(dir, 'b');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await start({ 'index.path': path }).then((i) => i.stop());
      writeFileSync(join(path, 'LOCK'), String(other.pid));
      await expect(start({ 'index.path': path })).rejects.toThrow(
        `index ${path} is held by process ${other.pid}: a local index is unsafe with more than one process`,
      );
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('takes over the lock of a process that died', async () => {
    const path = join(dir, 'c');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    await start({ 'index.path': path }).then((i) => i.stop());
    writeFileSync(join(path, 'LOCK'), String(dead.pid));
    const index = await start({ 'index.path': path });
    expect(readFileSync(join(path, 'LOCK'), 'utf8')).toBe(String(process.pid));
    await index.stop();
  });

  it('restarts (not reconfigures in place) when its path changes', async () => {
    const config = { 'index.path': join(dir, 'd') };
    const index = await start(config);
    const change = (next: Record<string, string>) =>
      index.reconfigure(moduleContext(next), {
        config: next,
        previous: config,
        changedKeys: ['index.path'],
      });
    expect(await change({ 'index.path': join(dir, 'd') })).toBe('applied');
    expect(await change({ 'index.path': join(dir, 'e') })).toBe('restart');
    await index.stop();
  });

  it('refuses config keys it does not have, by name', () => {
    expect(builtInModuleTypes().get('local-index')!.validateConfig({ 'index.pth': '/x' })).toEqual([
      'config.index.pth is not a key of this module type',
    ]);
  });
});
