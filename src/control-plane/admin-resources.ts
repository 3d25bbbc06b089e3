// The admin API's one door into src/resources: turns the `files` and `objects`
// of a request body into canonical resources, with every error named by file,
// document, line and field path.

import type { ForeignDocument, Resource } from '../resources/types.js';
import { kindDescriptor, resolveKind } from '../resources/kinds.js';
import { parseManifests, type ParseResult } from '../resources/parse-manifests.js';
import { parseObject, type ObjectParseResult } from '../resources/parse-object.js';
import { AdminError } from './admin-http.js';
import type { WireManifestError } from './admin-types.js';

export interface ParsedRequest {
  resources: Resource[];
  foreign: ForeignDocument[];
  errors: WireManifestError[];
  warnings: unknown[];
}

/** Canonical kind and scope of what a user typed ('ts', 'trafficsplits', ...); throws TRELLIS_E_UNKNOWN_KIND. */
export function canonicalKind(input: string): { kind: string; namespaced: boolean } {
  const kind = resolveKind(input);
  return { kind, namespaced: kindDescriptor(kind)?.namespaced ?? true };
}

/**
 * Parses `body.files` (YAML text, each with the path it is shown under) and,
 * when allowed, `body.objects` (already-decoded documents). Shape errors of the
 * body itself are thrown as 400 AdminErrors; manifest errors are collected.
 */
export function parseRequestManifests(body: Record<string, unknown>, opts: { allowObjects: boolean }): ParsedRequest {
  const out: ParsedRequest = { resources: [], foreign: [], errors: [], warnings: [] };
  const merge = (r: ParseResult) => {
    out.resources.push(...r.resources);
    out.foreign.push(...r.foreign);
    out.errors.push(...r.errors);
    out.warnings.push(...r.warnings);
  };
  const mergeObject = (r: ObjectParseResult) =>
    merge({ resources: r.resource ? [r.resource] : [], foreign: r.foreign ? [r.foreign] : [], errors: r.errors, warnings: r.warnings });
  if (body.files !== undefined) {
    if (!Array.isArray(body.files)) throw bad('files must be an array of {path, content}');
    body.files.forEach((f: unknown, i: number) => {
      const file = f as { path?: unknown; content?: unknown } | null;
      if (!file || typeof file !== 'object' || typeof file.content !== 'string') {
        throw bad(`files[${i}] must be {path, content} with string content`);
      }
      const path = typeof file.path === 'string' && file.path ? file.path : `files[${i}]`;
      merge(parseManifests(file.content, path));
    });
  }
  if (body.objects !== undefined) {
    if (!opts.allowObjects) throw bad('objects are not accepted here; use refs or files');
    if (!Array.isArray(body.objects)) throw bad('objects must be an array');
    body.objects.forEach((o: unknown, i: number) => {
      const source = { file: `objects[${i}]`, document: i, line: 1 };
      mergeObject(parseObject(o, source));
    });
  }
  return out;
}

function bad(message: string): AdminError {
  return new AdminError(400, 'TRELLIS_E_BAD_REQUEST', message);
}

/** Looks up the computed status of one object (Gateway API status); undefined = none. */
export type StatusLookup = (kind: string, namespace: string, name: string) => unknown;

/**
 * Objects as the API returns them: each with `status` filled in from the
 * latest computed statuses (never stored: writing it would re-trigger
 * compilation). Objects without a computed status are returned as stored.
 */
export function withStatus(items: readonly Resource[], statusOf: StatusLookup | undefined): Resource[] {
  if (!statusOf) return [...items];
  return items.map((r) => {
    const status = statusOf(r.kind, r.metadata.namespace, r.metadata.name);
    return status === undefined ? r : ({ ...r, status } as Resource);
  });
}
