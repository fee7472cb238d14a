import { Command } from 'commander';
import {
  configPath,
  contextRows,
  deleteContext,
  readConfig,
  setContext,
  useContext,
  writeConfig,
} from '../config/cli-config';
import { outputOption, print, printOutput } from './cli-session';

/** `plexus config`: contexts in ~/.config/plexus/config.json, like kubectl's. */
export function configCommand(): Command {
  const config = new Command('config').description(
    'contexts: which control plane and token to use ($XDG_CONFIG_HOME/plexus/config.json)',
  );
  config
    .command('set-context')
    .argument('<name>')
    .description('add or change a context (the first one becomes current)')
    .option('--url <url>', 'control plane URL, e.g. http://127.0.0.1:3000')
    .option('--token <token>', 'bearer token (stored in the file, never printed)')
    .action((name: string, _opts: unknown, cmd: Command) => {
      // --url and --token are also the root's options, which parse them first.
      const opts = cmd.optsWithGlobals<{ url?: string; token?: string }>();
      const path = configPath();
      const fields = {
        ...(opts.url ? { url: opts.url } : {}),
        ...(opts.token ? { token: opts.token } : {}),
      };
      writeConfig(path, setContext(readConfig(path), name, fields));
      print(`context "${name}" set in ${path}\n`);
    });
  config
    .command('use-context')
    .argument('<name>')
    .description('make a context the current one')
    .action((name: string) => {
      const path = configPath();
      writeConfig(path, useContext(readConfig(path), name));
      print(`current context is "${name}"\n`);
    });
  config
    .command('delete-context')
    .argument('<name>')
    .action((name: string) => {
      const path = configPath();
      writeConfig(path, deleteContext(readConfig(path), name));
      print(`context "${name}" deleted\n`);
    });
  config
    .command('get-contexts')
    .description('list contexts (tokens are never shown)')
    .addOption(outputOption())
    .action((opts) => {
      const rows = contextRows(readConfig(configPath()));
      printOutput(rows, opts.output, {
        rows: (r) => r,
        columns: [
          { header: 'current', value: (r) => r.current },
          { header: 'name', value: (r) => r.name },
          { header: 'url', value: (r) => r.url },
          { header: 'token', value: (r) => r.token },
        ],
      });
    });
  config.command('current-context').action(() => {
    print(`${readConfig(configPath()).currentContext ?? '(none)'}\n`);
  });
  return config;
}
