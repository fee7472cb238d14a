/**
 * Prints a `users` entry for a local-security module: `NAME:scrypt$N$r$p$salt$hash`.
 *
 *     npx ts-node -r tsconfig-paths/register --transpile-only scripts/hash-password.ts alice
 *
 * The password is read from stdin (typed at a prompt without echo when stdin is a terminal, or
 * piped), never from the command line, where other users of the host could see it. Join several
 * entries with ";" in the module's `users` config.
 */
import { createInterface } from 'node:readline';
import { hashPassword } from '@plexus/module-runtime';

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += chunk;
    return text.replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  process.stderr.write('password: ');
  // Keep the typed password off the screen.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const password = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return password;
}

async function main() {
  const name = process.argv[2];
  if (!name || !/^[A-Za-z0-9_.@+-]{1,64}$/.test(name)) {
    process.stderr.write('usage: hash-password.ts NAME   (the password is read from stdin)\n');
    process.exit(2);
  }
  const password = await readPassword();
  if (!password) {
    process.stderr.write('the password is empty\n');
    process.exit(2);
  }
  process.stdout.write(`${name}:${await hashPassword(password)}\n`);
}

void main();
