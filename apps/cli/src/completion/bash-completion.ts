import { Command } from 'commander';

/** Words completing each command path ("" is the root), from the command tree itself. */
export function completionWords(program: Command): Record<string, string[]> {
  const words: Record<string, string[]> = {};
  const walk = (cmd: Command, path: string) => {
    words[path] = [
      ...cmd.commands.map((c) => c.name()),
      ...cmd.options.map((o) => o.long).filter((l): l is string => !!l),
    ];
    for (const sub of cmd.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, '');
  return words;
}

/** A bash completion script: commands and options by the words typed so far. */
export function bashCompletion(program: Command): string {
  const cases = Object.entries(completionWords(program))
    .map(([path, w]) => `    "${path}") words="${w.join(' ')}" ;;`)
    .join('\n');
  return `# plexus bash completion: source <(plexus completion bash)
_plexus() {
  local cur path="" words="" i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) path="\${path:+$path }\${COMP_WORDS[i]}" ;; esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _plexus plexus
`;
}
