import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModuleContext } from '../../module-type';
import { localIndexType } from './local-index.module-type';

/** local-index against the real disk: the lock that makes it unsafe with a second process. */
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const ctx = (moduleId: string): ModuleContext => ({
  nodeId: 'fhir_node',
  processId: 'p1',
  moduleId,
  portOffset: 0,
  configVersion: () => 1,
  dependencies: {},
  logger: quiet,
});

describe('local-index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plexus-index-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('owns its directory while it runs, and gives it up when stopped', async () => {
    const path = join(dir, 'a');
    const index = await localIndexType.start({ 'index.path': path }, ctx('idx'));
    expect(readFileSync(join(path, 'LOCK'), 'utf8')).toBe(String(process.pid));
    expect(index.status?.()).toMatchObject({ path });
    await index.stop();
    expect(existsSync(join(path, 'LOCK'))).toBe(false);
  });

  it('refuses to start while another live process holds the index, naming it', async () => {
    const path = join(dir, 'b');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await localIndexType.start({ 'index.path': path }, ctx('idx')).then((i) => i.stop());
      writeFileSync(join(path, 'LOCK'), String(other.pid));
      await expect(localIndexType.start({ 'index.path': path }, ctx('idx'))).rejects.toThrow(
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
    await localIndexType.start({ 'index.path': path }, ctx('idx')).then((i) => i.stop());
    writeFileSync(join(path, 'LOCK'), String(dead.pid));
    const index = await localIndexType.start({ 'index.path': path }, ctx('idx'));
    expect(readFileSync(join(path, 'LOCK'), 'utf8')).toBe(String(process.pid));
    await index.stop();
  });

  it('restarts (not reconfigures in place) when its path changes', async () => {
    const index = await localIndexType.start({ 'index.path': join(dir, 'd') }, ctx('idx'));
    expect(await index.reconfigure!({ 'index.path': join(dir, 'd') })).toBe(true);
    expect(await index.reconfigure!({ 'index.path': join(dir, 'e') })).toBe(false);
    await index.stop();
  });

  it('refuses config keys it does not have, by name', () => {
    expect(localIndexType.validateConfig({ 'index.pth': '/x' })).toEqual([
      'config.index.pth is not a key of this module type',
    ]);
  });
});
