// The `trellis` command line: commander wiring only. Each command lives in
// commands/<name>.ts and is loaded when it runs, so `trellis get` does not
// load the control plane and a broken module breaks one command, not all.

import fs from 'node:fs';
import { Command, Option } from 'commander';
import { CliError, err } from './context.js';

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];
const STATE_DIR_HELP = 'state directory of the mesh (default: $TRELLIS_STATE_DIR, DIR/.trellis, ./.trellis, the last `trellis up`)';

/** Runs an action, turning expected errors into `error: ...` and an exit code. */
function run<A extends unknown[]>(action: (...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await action(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      const error = e as Error & { code?: string; exitCode?: number };
      const expected = e instanceof CliError || (typeof error.code === 'string' && error.code.startsWith('TRELLIS_E_'));
      err(`error: ${error.message ?? String(e)}`);
      if (!expected || process.env.TRELLIS_DEBUG) err(String(error.stack ?? ''));
      process.exitCode = e instanceof CliError ? e.exitCode : 1;
    }
  };
}

/** Merges global options with a command's own (its own win). */
function optionsOf<T>(cmd: Command): T {
  return cmd.optsWithGlobals() as T;
}

export function buildProgram(): Command {
  const program = new Command('trellis')
    .description('Trellis service mesh: SMI and Gateway API, on one machine or on Kubernetes')
    .version(version())
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('up')
    .description('run the mesh described by a folder of manifests (control plane, sidecars, workloads)')
    .argument('<dir>', 'folder of YAML manifests')
    .option('--state-dir <dir>', 'where the mesh keeps its state (default: DIR/.trellis)')
    .option('--quiet', 'print only errors')
    .addOption(new Option('--isolation <mode>', 'how workload instances are isolated').choices(['process', 'netns']))
    .action(run(async (dir: string, _o: unknown, cmd: Command) => (await import('./commands/up.js')).up(dir, optionsOf(cmd))));

  program
    .command('apply')
    .description('create or update resources from manifests (atomic: all documents or none)')
    .option('-f, --filename <path>', 'manifest file or folder (repeatable; folders are read recursively)', collect, [])
    .option('--dry-run', 'validate and show what would change, change nothing')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(run(async (_o: unknown, cmd: Command) => (await import('./commands/apply.js')).apply(optionsOf(cmd))));

  program
    .command('delete')
    .description('delete resources named by manifests (-f) or by KIND NAME')
    .argument('[kind]', 'kind, plural or short name (e.g. trafficsplits, ts)')
    .argument('[name]', 'object name')
    .option('-f, --filename <path>', 'manifest file or folder (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace of KIND NAME', 'default')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(
      run(async (kind: string | undefined, name: string | undefined, _o: unknown, cmd: Command) =>
        (await import('./commands/delete.js')).del(kind, name, optionsOf(cmd)),
      ),
    );

  program
    .command('get')
    .description('list resources of a kind, or show one')
    .argument('<kind>', 'kind, plural or short name (e.g. trafficsplits, ts, svc)')
    .argument('[name]', 'object name')
    .option('-n, --namespace <ns>', 'namespace (default: default)')
    .option('-A, --all-namespaces', 'every namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json', 'wide']))
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(
      run(async (kind: string, name: string | undefined, _o: unknown, cmd: Command) =>
        (await import('./commands/get.js')).get(kind, name, optionsOf(cmd)),
      ),
    );

  program
    .command('status')
    .description('show workload instances and proxies of the running mesh')
    .option('--json', 'machine-readable output')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(run(async (_o: unknown, cmd: Command) => (await import('./commands/status.js')).status(optionsOf(cmd))));

  program
    .command('stat')
    .description('traffic of workloads, services or namespaces: success rate, requests per second, latency percentiles (like linkerd viz stat)')
    .argument('[kind]', 'workloads (wl), services (svc) or namespaces (ns)', 'workloads')
    .option('-n, --namespace <ns>', 'namespace (default: default; for namespaces: all)')
    .option('-A, --all-namespaces', 'every namespace')
    .option('--window <duration>', 'how far back to look, 1s to 5m', '30s')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'wide']))
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(
      run(async (kind: string | undefined, _o: unknown, cmd: Command) =>
        (await import('./commands/stat.js')).stat(kind, optionsOf(cmd)),
      ),
    );

  program
    .command('validate')
    .description('check manifests without a running mesh (errors name file, line and field)')
    .argument('<path>', 'manifest file or folder')
    .action(run(async (path: string) => (await import('./commands/validate.js')).validate(path)));

  program
    .command('exec')
    .description("run a command with a workload instance's environment (HTTP_PROXY through its sidecar, PORT, upstreams)")
    .argument('<workload>', 'workload name')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-n, --namespace <ns>', 'namespace of the workload', 'default')
    .option('--instance <index|name>', 'instance index or name', '0')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(
      run(async (workload: string, command: string[], _o: unknown, cmd: Command) =>
        (await import('./commands/exec.js')).exec(workload, command, optionsOf(cmd)),
      ),
    );

  program
    .command('check-access')
    .description('can FROM reach TO? answered by the compiler with the rule that decides (exit 0 allowed, 2 denied)')
    .argument('<from>', 'source: NAMESPACE/NAME of a workload, gateway, service or service account')
    .argument('<to>', 'destination: NAMESPACE/NAME of a service (or of a workload without one)')
    .option('--path <path>', 'request path (and query)', '/')
    .option('--method <method>', 'HTTP method', 'GET')
    .option('--port <port>', 'service port (default: its first port)')
    .option('-H, --header <header>', "request header 'name: value' (repeatable)", collect, [])
    .option('-n, --namespace <ns>', 'namespace of FROM and TO given without one', 'default')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json']))
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(
      run(async (from: string, to: string, _o: unknown, cmd: Command) =>
        (await import('./commands/check-access.js')).checkAccess(from, to, optionsOf(cmd)),
      ),
    );

  program
    .command('dashboard')
    .description("print the URL of the running mesh's dashboard and open it in a browser")
    .option('--no-open', 'only print the URL')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(run(async (_o: unknown, cmd: Command) => (await import('./commands/dashboard.js')).dashboard(optionsOf(cmd))));

  return program;
}

await buildProgram().parseAsync(process.argv);
