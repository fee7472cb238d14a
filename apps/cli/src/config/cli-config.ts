import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { usageError } from '../exit-codes';

/** One control plane the CLI talks to, like a kubectl context. */
export interface CliContext {
  url: string;
  token?: string;
}

/** ~/.config/plexus/config.json. */
export interface CliConfigFile {
  currentContext?: string;
  contexts: Record<string, CliContext>;
}

/** Where the control plane is and how to authenticate, after flags, environment and file. */
export interface Connection {
  url: string;
  token: string | undefined;
  /** The context it came from, if any. */
  context: string | undefined;
}

/** $XDG_CONFIG_HOME/plexus/config.json, or ~/.config/plexus/config.json. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'plexus', 'config.json');
}

export function readConfig(path: string): CliConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError(`${path} is not valid JSON`);
  }
  const file = parsed as Partial<CliConfigFile>;
  if (!file || typeof file !== 'object' || typeof (file.contexts ?? {}) !== 'object')
    throw usageError(`${path} must be an object with "contexts"`);
  return { currentContext: file.currentContext, contexts: file.contexts ?? {} };
}

/** Writes the file readable by its owner only: it holds tokens. */
export function writeConfig(path: string, config: CliConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The file with context `name` added or changed (only the fields given change). */
export function setContext(
  config: CliConfigFile,
  name: string,
  fields: Partial<CliContext>,
): CliConfigFile {
  const before = config.contexts[name];
  const url = fields.url ?? before?.url;
  if (!url) throw usageError(`context "${name}" is new: --url is required`);
  const context: CliContext = { ...before, ...fields, url };
  return {
    currentContext: config.currentContext ?? name,
    contexts: { ...config.contexts, [name]: context },
  };
}

export function useContext(config: CliConfigFile, name: string): CliConfigFile {
  if (!config.contexts[name]) throw usageError(`no context named "${name}"`);
  return { ...config, currentContext: name };
}

export function deleteContext(config: CliConfigFile, name: string): CliConfigFile {
  if (!config.contexts[name]) throw usageError(`no context named "${name}"`);
  const { [name]: _gone, ...contexts } = config.contexts;
  return {
    currentContext: config.currentContext === name ? undefined : config.currentContext,
    contexts,
  };
}

export interface ConnectionFlags {
  url?: string;
  token?: string;
  context?: string;
}

/**
 * Flags win over the environment (PLEXUS_URL, PLEXUS_TOKEN, PLEXUS_CONTEXT), which wins over the
 * file's context (--context, else its current one).
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  config: CliConfigFile,
): Connection {
  // An empty variable counts as unset, as in most shells' tools.
  const contextName = flags.context || env.PLEXUS_CONTEXT || config.currentContext;
  const context = contextName ? config.contexts[contextName] : undefined;
  if (contextName && !context && (flags.context || env.PLEXUS_CONTEXT))
    throw usageError(`no context named "${contextName}"`);
  const url = flags.url || env.PLEXUS_URL || context?.url;
  if (!url)
    throw usageError(
      'no control plane: pass --url, set PLEXUS_URL, or run `plexus config set-context NAME --url URL`',
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--url "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw usageError(`--url "${url}" must be http:// or https://`);
  return {
    url: url.replace(/\/+$/, ''),
    token: flags.token || env.PLEXUS_TOKEN || context?.token,
    context: context ? contextName : undefined,
  };
}

/** The contexts as `get-contexts` lists them: never a token, only whether one is set. */
export function contextRows(config: CliConfigFile) {
  return Object.entries(config.contexts).map(([name, c]) => ({
    current: name === config.currentContext ? '*' : '',
    name,
    url: c.url,
    token: c.token ? 'set' : 'none',
  }));
}
