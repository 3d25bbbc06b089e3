// trellis get KIND [NAME] [-n NS | -A] [-o yaml|json|wide]

import { kindDescriptor, resolveKind } from '../../resources/kinds.js';
import type { Resource, WorkloadInstanceResource } from '../../resources/types.js';
import { AdminApiError } from '../admin-client.js';
import { columnsFor } from '../columns.js';
import { CliError, connect, err, out, type GlobalOptions } from '../context.js';
import { age, table, toJson, toYaml } from '../format.js';

export interface GetOptions extends GlobalOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: 'yaml' | 'json' | 'wide';
}

export async function get(kindInput: string, name: string | undefined, opts: GetOptions): Promise<number> {
  const kind = resolveKind(kindInput);
  const d = kindDescriptor(kind);
  const namespaced = d?.namespaced ?? true;
  if (opts.allNamespaces && opts.namespace) throw new CliError('give either -n NAMESPACE or -A, not both');
  const namespace = !namespaced || opts.allNamespaces ? undefined : (opts.namespace ?? 'default');
  const client = connect(opts);

  let items: Resource[];
  try {
    items = (await client.list(kind, { namespace, name })).items;
  } catch (e) {
    if (e instanceof AdminApiError && e.status === 404) {
      throw new CliError(`${d?.singular ?? kind.toLowerCase()} "${name}" not found${namespace ? ` in namespace ${namespace}` : ''}`, 1, e.code);
    }
    throw e;
  }
  items.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));

  if (opts.output === 'yaml') {
    if (items.length > 0) process.stdout.write(toYaml(items));
    return 0;
  }
  if (opts.output === 'json') {
    out(toJson(items, name !== undefined));
    return 0;
  }

  if (items.length === 0) {
    err(namespace ? `No resources found in ${namespace} namespace.` : 'No resources found.');
    if (namespace) {
      const all = (await client.list(kind)).items;
      if (all.length > 0) {
        const namespaces = [...new Set(all.map((r) => r.metadata.namespace))].sort();
        err(`hint: ${all.length} ${d?.plural ?? kind} in other namespaces (${namespaces.join(', ')}): use -n NAMESPACE or -A`);
      }
    }
    return 0;
  }

  const instances =
    kind === 'Workload' ? ((await client.list('WorkloadInstance', { namespace })).items as WorkloadInstanceResource[]) : [];
  const cols = columnsFor(kind, instances, opts.output === 'wide');
  const showNs = namespaced;
  const headers = [...(showNs ? ['NAMESPACE'] : []), 'NAME', ...cols.headers, 'AGE'];
  const rows = items.map((r) => [
    ...(showNs ? [r.metadata.namespace] : []),
    r.metadata.name,
    ...cols.cells(r),
    age(r.metadata.creationTimestamp),
  ]);
  out(table(headers, rows));
  return 0;
}
