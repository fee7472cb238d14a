import type { ModuleContext } from '@plexus/module-sdk';
import { freePortBlock, portIsFree } from '../../../../test/support/ports';
import { moduleTypes } from './index';

/** The template's type through the SDK contract, with a context built by hand. */
const [helloHttp] = moduleTypes;

const contextFor = (config: Record<string, string>, portOffset: number): ModuleContext => ({
  nodeId: 'hello_node',
  processId: 'process-1',
  moduleId: 'hello',
  config,
  portOffset,
  configVersion: () => 4,
  logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
  dependencies: {},
  mayServe: () => true,
});

describe('hello-http (the template module type)', () => {
  it('greets on port plus offset, applies a new greeting in place, asks a restart for a new port', async () => {
    const port = await freePortBlock([0, 10]);
    const ctx = contextFor({ port: String(port) }, 10);
    const hello = await helloHttp.start(ctx);
    try {
      const greet = async () => (await fetch(`http://127.0.0.1:${port + 10}/`)).json();
      expect(await greet()).toMatchObject({ moduleId: 'hello', configVersion: 4 });
      expect(await hello.health()).toMatchObject({ status: 'UP' });

      const greeting = { port: String(port), greeting: 'hi' };
      expect(
        await hello.reconfigure(ctx, {
          config: greeting,
          previous: ctx.config,
          changedKeys: ['greeting'],
        }),
      ).toBe('applied');
      expect((await greet()).greeting).toBe('hi');

      expect(
        await hello.reconfigure(ctx, {
          config: { ...greeting, port: String(port + 1) },
          previous: greeting,
          changedKeys: ['port'],
        }),
      ).toBe('restart');
    } finally {
      await hello.stop();
    }
    expect(await portIsFree(port + 10)).toBe(true);
    expect(await hello.health()).toMatchObject({ status: 'DOWN' });
  });
});
