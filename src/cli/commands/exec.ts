// trellis exec WORKLOAD [-n NS] [--instance I] -- CMD [ARGS...]: runs CMD with
// the environment of one instance of a running workload (HTTP_PROXY through its
// sidecar, PORT, upstream addresses), so it talks to the mesh as the workload does.

import { spawn } from 'node:child_process';
import os from 'node:os';
import { instanceEnv } from '../../local/env.js';
import { NETNS_ANNOTATION } from '../../local/netns/constants.js';
import type { WorkloadInstanceResource, WorkloadResource } from '../../resources/types.js';
import { CliError, connect, type GlobalOptions } from '../context.js';

export async function exec(
  workload: string,
  command: string[],
  opts: GlobalOptions & { namespace: string; instance: string },
): Promise<number> {
  if (command.length === 0) throw new CliError('exec needs a command after --, e.g. trellis exec bookbuyer -- curl http://bookstore/');
  const client = connect(opts);
  const ns = opts.namespace;
  const all = (await client.list('WorkloadInstance', { namespace: ns })).items as WorkloadInstanceResource[];
  const mine = all.filter((i) => i.spec.workload === workload).sort((a, b) => a.spec.index - b.spec.index);
  if (mine.length === 0) {
    const known = [...new Set(all.map((i) => i.spec.workload))].sort();
    const hint = known.length > 0 ? `; workloads with instances in ${ns}: ${known.join(', ')}` : '';
    throw new CliError(`workload "${workload}" has no running instance in namespace ${ns}${hint}`, 1, 'TRELLIS_E_NO_INSTANCE');
  }
  const wanted = opts.instance;
  const instance = /^\d+$/.test(wanted)
    ? mine.find((i) => i.spec.index === Number(wanted))
    : mine.find((i) => i.metadata.name === wanted);
  if (!instance) {
    const have = mine.map((i) => `${i.spec.index} (${i.metadata.name})`).join(', ');
    throw new CliError(`workload "${workload}" has no instance ${wanted}; it has ${have}`, 1, 'TRELLIS_E_NO_INSTANCE');
  }
  const w = await client.get<WorkloadResource>({ kind: 'Workload', namespace: ns, name: workload });
  const env = { ...process.env, ...instanceEnv(instance, w?.spec.env ?? {}) };
  // Isolated mode: run inside the instance's network namespace, as its app runs (src/local/netns).
  const netns = instance.metadata.annotations?.[NETNS_ANNOTATION];
  if (netns) {
    const { execInNamespace } = await import('../../local/netns/exec.js');
    const wrapped = execInNamespace(netns, command, env);
    return runChild(wrapped.argv, wrapped.env);
  }
  return runChild(command, env);
}

/** Spawns with inherited stdio; resolves to its exit code (128+n when killed by signal n). */
function runChild(command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
    // The terminal sends Ctrl-C to the whole group; let the child decide, and forward what only we get.
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const cleanup = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        new CliError(
          e.code === 'ENOENT' ? `command not found: ${command[0]}` : `cannot run ${command[0]}: ${e.message}`,
          e.code === 'ENOENT' ? 127 : 126,
        ),
      );
    });
    child.on('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
