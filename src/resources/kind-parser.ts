// The contract between the document dispatcher (parse-object.ts) and the
// per-kind parsers: a kind parser turns the body of one document into the
// canonical spec, reporting problems with full field paths.
import type { ObjectMeta } from './types.js';
import type { FieldPath, IssueSink } from './validate.js';

export interface KindParseInput {
  /** `spec`, or for legacy layouts an object of the top-level fields. */
  body: unknown;
  /** Path of `body` inside the document: ['spec'] or [] for legacy layouts. */
  at: FieldPath;
  /** The version part of the apiVersion (e.g. 'v1alpha1'). */
  version: string;
  /** Already validated and defaulted metadata. */
  meta: ObjectMeta;
  sink: IssueSink;
}

export interface KindParser<S> {
  /**
   * Top-level fields that older versions put beside `metadata` instead of
   * under `spec` (TrafficTarget v1alpha1/2, HTTPRouteGroup v1alpha1/2). When
   * `spec` is absent and one of them is present, they form the body.
   */
  legacyTopLevel?: readonly string[];
  /** Top-level fields accepted and ignored without a warning (ServiceAccount `secrets`, ...). */
  ignoredTopLevel?: readonly string[];
  /** Versions in which the legacy top-level layout is the documented one (no warning). */
  legacyVersions?: readonly string[];
  parseSpec(input: KindParseInput): S | undefined;
}
