import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { hashPassword } from '@plexus/module-runtime';
import { TEST_ADMIN_TOKEN } from './support/control-plane';
import { Cluster, startCluster } from './support/cluster-fixture';
import { freePortBlock } from './support/ports';
import { ROOT } from './support/processes';

/**
 * The web console in a real browser (Debian's Chromium, headless) against the built control
 * plane and two worker processes of one node: what an operator does with it, click by click.
 * Screenshots go to test-output/console; PLEXUS_DOCS_SCREENSHOT=1 also refreshes docs/console.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-output', 'console');
const OFFSETS = [0, 100];
const nodeId = `console-${randomBytes(3).toString('hex')}`;
const WAIT_MS = 30_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

describe('the web console in a browser', () => {
  let cluster: Cluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let webPort: number;
  /** local-security's `users`: a secret the console must never show. */
  let users: string;

  const consoleUrl = (path = '') => `${cluster.controlPlane.url}/console${path}`;

  const shot = async (name: string, target = page) => {
    await target.screenshot({ path: join(SHOTS, `${name}.png`) });
  };

  /** Waits until an element matching `selector` shows `text`. */
  const shows = (selector: string, text: string | RegExp, target = page) =>
    target
      .locator(selector, { hasText: text })
      .first()
      .waitFor({ state: 'visible', timeout: WAIT_MS });

  /** The message and config version a worker's http-endpoint serves. */
  const served = async (offset: number) => {
    const res = await fetch(`http://127.0.0.1:${webPort + offset}/`);
    return (await res.json()) as { message: string; configVersion: number; processId: string };
  };

  const nodeVersion = async () =>
    (await cluster.api.get(`/nodes/${nodeId}`)).body.version as number;

  /** A fresh page logged in with the admin token, typed and submitted from the keyboard. */
  const loggedInPage = async (viewport = DESKTOP) => {
    const ctx = await browser.newContext({ viewport });
    const p = await ctx.newPage();
    await p.goto(consoleUrl('/'));
    await p.getByLabel('Admin token').focus();
    await p.keyboard.type(TEST_ADMIN_TOKEN);
    await p.keyboard.press('Enter');
    await shows('h1', 'Cluster overview', p);
    return { ctx, page: p };
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startCluster({ databasePrefix: 'plexus_console' });
    webPort = await freePortBlock(OFFSETS);
    users = `alice:${await hashPassword('alice-password')}`;
    const file = cluster.writeFile(`${nodeId}.properties`, [
      `node.id = ${nodeId}`,
      'module.web.type = http-endpoint',
      `module.web.config.port = ${webPort}`,
      'module.web.config.message = hello from the file',
      'module.security.type = local-security',
      `module.security.config.users = ${users}`,
      'module.security.config.sessions.timeout.mins = 30',
    ]);
    for (const portOffset of OFFSETS)
      await cluster.startWorker({ nodeId, propertiesFile: file, portOffset });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  }, 60_000);

  it('refuses a wrong token with a clear message and keeps asking', async () => {
    await page.goto(consoleUrl('/'));
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await shows('[role=alert]', 'This token was refused (401 Unauthorized)');
    await shot('login-refused-1280');
    expect(await page.evaluate(() => sessionStorage.getItem('plexus.token'))).toBeNull();
    expect(await page.locator('h1', { hasText: 'Cluster overview' }).count()).toBe(0);
  }, 60_000);

  it('changes a message, follows it to every process, diffs and reverts it with a reason', async () => {
    const before = await nodeVersion();

    // Log in from the keyboard; the token is kept for this tab only.
    await page.goto(consoleUrl('/'));
    await page.getByLabel('Admin token').focus();
    await page.keyboard.type(TEST_ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await shows('h1', 'Cluster overview');
    expect(await page.evaluate(() => sessionStorage.getItem('plexus.token'))).toBe(
      TEST_ADMIN_TOKEN,
    );
    const row = page.locator(`tr[data-node="${nodeId}"]`);
    await row.locator('.badge', { hasText: 'converged' }).waitFor({ timeout: WAIT_MS });
    expect(await row.locator('td').nth(2).textContent()).toBe('2'); // live processes
    await shot('overview-1280');

    // The node page: its module, and both processes on the current version.
    await page.getByRole('link', { name: nodeId }).click();
    await shows('h1', `Node ${nodeId}`);
    await shows('tr[data-module="web"]', 'http-endpoint');
    await shows('#rollout-summary', `Converged: every live process runs version ${before}`);
    await shows('.stream', 'live');

    // Edit the message in the form generated from http-endpoint's schema, and save.
    await page.getByRole('button', { name: 'Edit config of web' }).click();
    const message = page.getByLabel('message', { exact: true });
    expect(await message.inputValue()).toBe('hello from the file');
    await message.fill('hello from the console');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const after = before + 1;
    await shows('[role=status]', `Saved: the node is now at version ${after}`);

    // Every process reaches the new version on the page, reported live over /watch.
    await shows('#rollout-summary', `Converged: every live process runs version ${after}`);
    const rows = page.locator('tr[data-process]');
    expect(await rows.count()).toBe(OFFSETS.length);
    for (let i = 0; i < OFFSETS.length; i++) {
      expect(await rows.nth(i).getAttribute('data-applied')).toBe(String(after));
      expect(await rows.nth(i).locator('.badge').textContent()).toBe('converged');
      const processId = await rows.nth(i).getAttribute('data-process');
      await shows('.event-feed li', `${processId}: ProcessConfigApplied (version ${after})`);
    }
    await page.evaluate(() => scrollTo(0, 0));
    await shot('node-rollout-1280');
    if (process.env.PLEXUS_DOCS_SCREENSHOT === '1')
      copyFileSync(join(SHOTS, 'node-rollout-1280.png'), join(ROOT, 'docs', 'console.png'));

    // What the page showed is what the workers serve.
    for (const offset of OFFSETS)
      expect(await served(offset)).toMatchObject({
        message: 'hello from the console',
        configVersion: after,
      });

    // The diff between the two versions.
    await page.getByRole('link', { name: 'History, diff and revert' }).click();
    await shows('h1', `History of ${nodeId}`);
    await page.getByLabel('From version', { exact: true }).fill(String(before));
    await page.getByLabel('To version', { exact: true }).fill(String(after));
    await page.getByRole('button', { name: 'Show diff' }).click();
    await shows('#diff h3', `Version ${before} → ${after}`);
    const change = page.locator('#diff [data-module="web"] [data-key="message"]');
    expect(await change.locator('del').textContent()).toBe('hello from the file');
    expect(await change.locator('ins').textContent()).toBe('hello from the console');

    // Revert to the earlier version, with a reason.
    expect(await page.getByLabel('Revert to version').inputValue()).toBe(String(before));
    const reason = `back to the file's message (${randomBytes(2).toString('hex')})`;
    await page.getByLabel('Reason (recorded with the events)').fill(reason);
    await page.getByRole('button', { name: 'Revert', exact: true }).click();
    const reverted = after + 1;
    await shows('[role=status]', `the node is now at version ${reverted}`);
    await shot('history-diff-revert-1280');
    await cluster.until('the workers serve the reverted message', async () => {
      const answers = await Promise.all(OFFSETS.map(served));
      return answers.every((a) => a.message === 'hello from the file');
    });

    // The timeline shows the revert with its reason.
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByLabel('Node ID').fill(nodeId);
    await page.getByLabel('Type').selectOption('ModuleConfigChanged');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const revertRow = page.locator('tr[data-type="ModuleConfigChanged"]', { hasText: reason });
    await revertRow.waitFor({ timeout: WAIT_MS });
    expect(await revertRow.locator('td').nth(3).textContent()).toBe(String(reverted));
    expect(await revertRow.textContent()).toContain(
      'message hello from the console → hello from the file',
    );
    await shot('timeline-1280');

    // Older events come a page at a time through the `next` cursor, none twice.
    await page.goto(consoleUrl(`/events?nodeId=${nodeId}&limit=3`));
    await page.locator('tr[data-event]').nth(2).waitFor({ timeout: WAIT_MS });
    expect(await page.locator('tr[data-event]').count()).toBe(3);
    await page.getByRole('button', { name: 'Older events' }).click();
    await page.locator('tr[data-event]').nth(5).waitFor({ timeout: WAIT_MS });
    const ids = await page
      .locator('tr[data-event]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  }, 180_000);

  it('says clearly when the node changed under the editor (412), and reloads it', async () => {
    await page.goto(consoleUrl(`/nodes/${nodeId}`));
    await shows('h1', `Node ${nodeId}`);
    await page.getByRole('button', { name: 'Edit config of web' }).click();
    const opened = await nodeVersion();
    await shows('form.editor h3', `editing version ${opened}`);

    // Someone else changes the node meanwhile.
    const res = await cluster.api.patch(`/nodes/${nodeId}/modules/web/config`, {
      message: 'changed underneath',
    });
    expect(res.status).toBe(200);

    await page.getByLabel('message', { exact: true }).fill('my stale edit');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await shows('[role=alert]', 'Someone else changed this node');
    await shot('editor-412-1280');
    expect(await nodeVersion()).toBe(opened + 1);
    expect((await served(0)).message).not.toBe('my stale edit');

    await page.getByRole('button', { name: 'Reload the node' }).click();
    await shows('form.editor h3', `editing version ${opened + 1}`);
    expect(await page.getByLabel('message', { exact: true }).inputValue()).toBe(
      'changed underneath',
    );
  }, 120_000);

  it('stops and starts a module from the node page', async () => {
    await page.goto(consoleUrl(`/nodes/${nodeId}`));
    const web = page.locator('tr[data-module="web"]');
    await shows('tr[data-module="web"]', 'running on 2 of 2');

    await page.getByRole('button', { name: 'stop web', exact: true }).click();
    await shows('[role=status]', /web: stop recorded as version \d+/);
    await web.locator('.badge', { hasText: 'disabled' }).waitFor({ timeout: WAIT_MS });
    await cluster.until('no worker serves web', async () => {
      const answers = await Promise.all(OFFSETS.map((o) => served(o).catch(() => null)));
      return answers.every((a) => a === null);
    });
    await web
      .locator('td', { hasText: /running on/ })
      .waitFor({ state: 'detached', timeout: WAIT_MS });

    await page.getByRole('button', { name: 'start web', exact: true }).click();
    await shows('[role=status]', /web: start recorded as version \d+/);
    await web.locator('.badge', { hasText: 'enabled' }).waitFor({ timeout: WAIT_MS });
    await shows('tr[data-module="web"]', 'running on 2 of 2');
    await cluster.until('both workers serve web again', async () => {
      const answers = await Promise.all(OFFSETS.map((o) => served(o).catch(() => null)));
      return answers.every((a) => a !== null);
    });
  }, 120_000);

  it('never shows a secret, and a save that leaves it untouched keeps it', async () => {
    await page.goto(consoleUrl(`/nodes/${nodeId}`));
    await page.getByRole('button', { name: 'Edit config of security' }).click();
    const secret = page.getByLabel('users');
    expect(await secret.getAttribute('type')).toBe('password');
    expect(await secret.inputValue()).toBe('');
    expect(await secret.getAttribute('placeholder')).toBe('secret set: leave empty to keep it');
    expect(await page.content()).not.toContain(users.split(':')[1]);

    await page.getByLabel('sessions.timeout.mins').fill('45');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await shows('[role=status]', 'Saved: the node is now at version');
    await shot('editor-secret-1280');

    // The save changed the timeout only: the stored users were not touched.
    const res = await cluster.api.get(
      `/events?nodeId=${nodeId}&moduleId=security&type=ModuleConfigChanged&limit=1`,
    );
    expect(res.body.events[0].data.changes).toEqual([
      { key: 'sessions.timeout.mins', old: '30', new: '45' },
    ]);
    expect(JSON.stringify(res.body)).not.toContain(users.split(':')[1]);
  }, 60_000);

  it('lists the processes with their status, and fits a phone screen', async () => {
    await page.goto(consoleUrl(`/processes?nodeId=${nodeId}`));
    await shows('h1', 'Processes');
    await page
      .locator('tr[data-process]')
      .nth(OFFSETS.length - 1)
      .waitFor({ timeout: WAIT_MS });
    expect(await page.locator('tr[data-process] .badge', { hasText: 'up' }).count()).toBe(
      OFFSETS.length,
    );
    await shows('.card', `${nodeId} has no scaling policy yet`);
    await page.getByLabel('Maximum processes').fill('2');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await shows('[role=status]', 'Scaling policy saved.');
    await shows('.card p', `Policy set for ${nodeId}.`);
    const scaling = await cluster.api.get(`/nodes/${nodeId}/scaling`);
    expect(scaling.body.policy).toMatchObject({
      min: 1,
      max: 2,
      target: 60,
      metric: 'eventLoopUtilization',
    });
    await shot('processes-1280');

    const phone = await loggedInPage(PHONE);
    try {
      await shot('overview-390', phone.page);
      for (const [path, content, name] of [
        [`/nodes/${nodeId}`, 'tr[data-process]', 'node-390'],
        [`/events?nodeId=${nodeId}`, 'tr[data-type]', 'timeline-390'],
        [`/processes`, 'tr[data-process]', 'processes-390'],
      ]) {
        await phone.page.goto(consoleUrl(path));
        await phone.page.locator(content).first().waitFor({ timeout: WAIT_MS });
        await shot(name, phone.page);
        // Wide tables scroll inside their box; the page itself never scrolls sideways.
        const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
        expect({ path, width }).toEqual({ path, width: PHONE.width });
      }
    } finally {
      await phone.ctx.close();
    }
  }, 120_000);
});
