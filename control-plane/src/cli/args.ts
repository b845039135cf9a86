import { CliError, EXIT } from './client.js';

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string[]>;
  json: boolean;
}

const BOOLEAN = new Set(['json', 'help', 'yes', 'force', 'dry-run', 'shadow', 'create', 'tls', 'allow-plaintext']);

/** `--key value`, `--key=value`, repeatable; booleans listed above. Unknown flags are kept for commands to check. */
export function parseArgs(argv: string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let value = inline;
    if (value === undefined) {
      if (BOOLEAN.has(name)) value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new CliError(`--${name} needs a value`, EXIT.USAGE);
      }
    }
    flags[name] = [...(flags[name] ?? []), value];
  }
  return { positionals, flags, json: flags.json?.[0] === 'true' };
}
