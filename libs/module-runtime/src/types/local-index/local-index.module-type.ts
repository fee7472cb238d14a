import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  ConfigChange,
  ModuleConfig,
  ModuleContext,
  ModuleHealth,
  ModuleInstance,
  ReconfigureResult,
} from '@plexus/module-sdk';
import { BuiltInModuleType } from '../../module-type';
import { localIndexConfigSchema } from './local-index.schema';

const LOCK_FILE = 'LOCK';

const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * An index kept on this host's disk, like Smile CDR's local Lucene index: one process owns its
 * directory (an exclusive lock file holding its pid), which is why the type is unsafe with more
 * than one process of a node and declares `singleProcess`. A second process of the node on the
 * same host fails to start it and says which process holds it.
 */
class LocalIndex implements ModuleInstance {
  private readonly openedAt = new Date();

  private constructor(
    readonly path: string,
    private readonly ctx: ModuleContext,
  ) {}

  static async open(ctx: ModuleContext): Promise<LocalIndex> {
    const path = indexPath(ctx.config, ctx);
    await mkdir(path, { recursive: true });
    const lock = join(path, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return new LocalIndex(path, ctx);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
        if (holder && holder !== process.pid && processAlive(holder))
          throw new Error(
            `index ${path} is held by process ${holder}: a local index is unsafe with more than one process`,
          );
        await rm(lock, { force: true }); // left behind by a process that died
      }
    }
    throw new Error(`index ${path}: could not take its lock`);
  }

  health(): ModuleHealth {
    return { status: 'UP', details: { path: this.path, openedAt: this.openedAt.toISOString() } };
  }

  /** A new path is another index: stop and start. */
  async reconfigure(_ctx: ModuleContext, { config }: ConfigChange): Promise<ReconfigureResult> {
    return indexPath(config, this.ctx) === this.path ? 'applied' : 'restart';
  }

  async stop() {
    await rm(join(this.path, LOCK_FILE), { force: true });
  }
}

const indexPath = (config: ModuleConfig, ctx: ModuleContext) =>
  config['index.path'] ?? join(tmpdir(), 'plexus-local-index', ctx.nodeId, ctx.moduleId);

export const localIndexType: BuiltInModuleType = {
  name: 'local-index',
  version: '1.0.0',
  description:
    "An index on this host's disk, owned by one process (lock file). Unsafe with more than one " +
    'process of its node: run it with activation "single", or keep the node at one process',
  singleProcess: true,
  configSchema: localIndexConfigSchema,
  start: (ctx) => LocalIndex.open(ctx),
};
