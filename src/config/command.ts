// The `strata` subcommands, from argv to what the process should do:
//   strata [run] [flags]              → run a node with the loaded Config
//   strata check-config FILE [flags]  → print the effective config (or fail in one line)
//   strata config-docs                → print the documented defaults (config/default.yaml)
// --help (or -h) anywhere wins. Pure: cli.ts does the printing and the exit codes.

import { configError, loadConfig, type LoadOptions } from './load.js';
import { defaultsYaml, effectiveYaml, helpText } from './render.js';
import type { Config } from './types.js';

/** `reload`: loads the configuration again from the same flags, environment and file (SIGHUP, POST /reload). */
/** `checked`: the configuration check-config printed, whose files (TLS certificates) the caller still reads. */
export type Command = { run: Readonly<Config>; reload: () => Readonly<Config> } | { print: string; checked?: Readonly<Config> };

const COMMANDS = 'run, check-config or config-docs';

/** The `run` command's flags: argv without the optional leading `run`. */
function runOptions(opts: Omit<LoadOptions, 'file'>): Omit<LoadOptions, 'file'> {
  return opts.argv[0] === 'run' ? { ...opts, argv: opts.argv.slice(1) } : opts;
}

/**
 * The `run` command's reload, without loading the configuration now: a worker
 * restarted after a crash runs the node's running configuration instead
 * (workers/node-config.ts) and reads the file only when told to reload.
 */
export function runReload(opts: Omit<LoadOptions, 'file'>): () => Readonly<Config> {
  const load = runOptions(opts);
  return () => loadConfig(load);
}

export function parseCommand(opts: Omit<LoadOptions, 'file'>): Command {
  const argv = opts.argv;
  if (argv.some((a) => a === '--help' || a === '-h')) return { print: helpText() };
  const [first, ...rest] = argv;
  const running = (load: Omit<LoadOptions, 'file'>): Command => ({ run: loadConfig(load), reload: () => loadConfig(load) });
  if (first === undefined || first.startsWith('-')) return running(opts);
  switch (first) {
    case 'run':
      return running({ ...opts, argv: rest });
    case 'check-config': {
      const [file, ...flags] = rest;
      if (file === undefined || file.startsWith('-')) throw configError('check-config: missing FILE (expected strata check-config FILE [flags])');
      // FILE replaces --config: a --config beside it would be ignored without a word.
      const other = flags.find((a) => a === '--config' || a.startsWith('--config='));
      if (other !== undefined) throw configError(`check-config: ${other} given with FILE ${file} (expected one config file: strata check-config FILE [flags])`);
      const checked = loadConfig({ ...opts, argv: flags, file });
      return { print: effectiveYaml(checked), checked };
    }
    case 'config-docs':
      if (rest.length > 0) throw configError(`config-docs: unexpected argument ${JSON.stringify(rest[0])} (expected none)`);
      return { print: defaultsYaml() };
    default:
      throw configError(`unknown command ${JSON.stringify(first)} (expected ${COMMANDS}; see --help)`);
  }
}
