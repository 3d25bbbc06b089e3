// trellis delete -f FILE|DIR, or trellis delete KIND NAME [-n NS].

import { resolveKind } from '../../resources/kinds.js';
import { connect, CliError, type GlobalOptions } from '../context.js';
import { readManifestFiles } from '../manifest-files.js';
import { failWithManifestErrors, printResults } from '../output.js';

export async function del(
  kind: string | undefined,
  name: string | undefined,
  opts: GlobalOptions & { filename: string[]; namespace: string },
): Promise<number> {
  const byFile = opts.filename.length > 0;
  if (byFile && kind) throw new CliError('give either -f FILE|DIR or KIND NAME, not both');
  if (!byFile && (!kind || !name)) throw new CliError('delete needs -f FILE|DIR or KIND NAME (e.g. trellis delete trafficsplit bookstore-split -n bookstore)');
  const refs = byFile ? [] : [{ kind: resolveKind(kind!), namespace: opts.namespace, name: name! }];
  const files = byFile ? readManifestFiles(opts.filename) : undefined;
  const client = connect({ stateDir: opts.stateDir, manifestPath: byFile && opts.filename[0] !== '-' ? opts.filename[0] : undefined });
  let reply;
  try {
    reply = await client.delete({ files, refs });
  } catch (e) {
    failWithManifestErrors(e, 'deleted');
  }
  const notFound = printResults(reply.results);
  return notFound > 0 ? 1 : 0;
}
