// trellis validate PATH: checks manifests with no running mesh. Every error
// names file, line and field; foreign documents (Deployments, other meshes'
// kinds) get advice on what to use instead.

import { formatManifestError } from '../../resources/errors.js';
import { loadManifests } from '../../resources/load.js';
import { err, out } from '../context.js';
import { formatForeign, printWarnings } from '../output.js';

export async function validate(path: string): Promise<number> {
  const result = await loadManifests(path);
  for (const e of result.errors) err(formatManifestError(e));
  printWarnings(result.warnings);
  for (const f of result.foreign) err(formatForeign(f));
  const k = result.resources.length;
  const f = result.foreign.length;
  if (result.errors.length > 0) {
    const n = result.errors.length;
    err(`error: ${n} error${n === 1 ? '' : 's'} in ${path}`);
    return 1;
  }
  out(`${k + f} documents valid (${k} resources, ${f} recognised Kubernetes/foreign documents)`);
  return 0;
}
