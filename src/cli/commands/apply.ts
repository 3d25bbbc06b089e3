// trellis apply -f FILE|DIR ...: posts the manifests' text to the running
// mesh, which applies them atomically.

import { connect, CliError, type GlobalOptions } from '../context.js';
import { readManifestFiles } from '../manifest-files.js';
import { failWithManifestErrors, printForeign, printResults, printWarnings } from '../output.js';

export async function apply(opts: GlobalOptions & { filename: string[]; dryRun?: boolean }): Promise<number> {
  if (opts.filename.length === 0) throw new CliError('apply needs at least one -f FILE|DIR');
  const files = readManifestFiles(opts.filename);
  const client = connect({ stateDir: opts.stateDir, manifestPath: opts.filename[0] === '-' ? undefined : opts.filename[0] });
  let reply;
  try {
    reply = await client.apply({ files, dryRun: opts.dryRun === true });
  } catch (e) {
    failWithManifestErrors(e, 'applied');
  }
  printWarnings(reply.warnings);
  printForeign(reply.foreign, 'not applied');
  printResults(reply.results, opts.dryRun ? ' (dry run)' : '');
  return 0;
}
