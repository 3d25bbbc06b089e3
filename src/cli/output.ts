// Printing what the admin API reports: result lines like kubectl's, manifest
// errors and warnings in their one-line form, and advice for foreign documents.

import { formatManifestError, formatManifestWarning, type ManifestError, type ManifestWarning } from '../resources/errors.js';
import { kindDescriptor } from '../resources/kinds.js';
import type { ForeignDocument } from '../resources/types.js';
import type { ResultLine, WireManifestError } from '../control-plane/admin-types.js';
import { AdminApiError } from './admin-client.js';
import { CliError, err, out } from './context.js';
import { objectName } from './format.js';

export function resultName(r: { kind: string; name: string }): string {
  return objectName(r.kind, kindDescriptor(r.kind)?.group, r.name);
}

/** Prints result lines; returns how many were not found. */
export function printResults(results: ResultLine[], suffix = ''): number {
  let notFound = 0;
  for (const r of results) {
    if (r.action === 'not-found') {
      notFound++;
      const where = r.namespace ? ` in namespace ${r.namespace}` : '';
      err(`error: ${resultName(r)} not found${where}`);
    } else {
      out(`${resultName(r)} ${r.action}${suffix}`);
    }
  }
  return notFound;
}

/** Prints warnings, except foreign-kind ones: printForeign gives those with their advice. */
export function printWarnings(warnings: unknown[]): void {
  for (const w of warnings) {
    if ((w as { code?: string } | null)?.code === 'TRELLIS_W_FOREIGN_KIND') continue;
    if (w && typeof w === 'object' && 'file' in w && 'message' in w) err(formatManifestWarning(w as ManifestWarning));
    else err(`warning: ${typeof w === 'string' ? w : JSON.stringify(w)}`);
  }
}

export function formatForeign(f: ForeignDocument): string {
  const name = f.namespace ? `${f.namespace}/${f.name}` : f.name;
  return `${f.source.file}:${f.source.line}: ${f.kind} ${name} (${f.apiVersion}): ${f.advice}`;
}

export function printForeign(foreign: ForeignDocument[], verb: string): void {
  for (const f of foreign) err(`${formatForeign(f)} [${verb}]`);
}

export function formatError(e: WireManifestError): string {
  return formatManifestError(e as ManifestError);
}

/**
 * Rethrows an admin API failure as a CliError after printing its manifest
 * errors one per line (file:line: document N: path: message (CODE)).
 */
export function failWithManifestErrors(e: unknown, what: string): never {
  if (e instanceof AdminApiError && e.errors.length > 0) {
    for (const m of e.errors) err(formatError(m));
    const n = e.errors.length;
    throw new CliError(`${n} error${n === 1 ? '' : 's'}: nothing was ${what}`, 1, e.code);
  }
  throw e;
}
