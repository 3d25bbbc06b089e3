// One document (a YAML document's value or a JSON object from the admin API)
// → a canonical Resource, a ForeignDocument, or coded errors. Dispatches on
// apiVersion/kind through the kind registry to the per-kind parsers.
import type { ForeignDocument, GatewaySpec, Resource, ResourceKind, SourceLocation } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes, type ErrorCode, type ManifestError, type ManifestWarning, type WarningCode } from './errors.js';
import { KINDS, apiVersionOf, kindDescriptor, splitApiVersion, type KindDescriptor } from './kinds.js';
import { foreignAdvice } from './foreign.js';
import { parseMetadata } from './meta.js';
import { namespaceParser, serviceAccountParser, serviceParser } from './core.js';
import { workloadParser } from './workload.js';
import { meshConfigParser } from './mesh-config.js';
import { workloadInstanceParser } from './workload-instance.js';
import { trafficTargetParser } from './traffic-target.js';
import { httpRouteGroupParser, l4RouteParser } from './traffic-specs.js';
import { trafficSplitParser } from './traffic-split.js';
import { httpRouteParser } from './http-route.js';
import { gatewayClassParser } from './gateway-class.js';
import { gatewayParser, withAbsoluteTlsFiles } from './gateway.js';
import { secretParser } from './secret.js';
import { trafficPolicyParser } from './traffic-policy.js';
import { faultInjectionParser } from './fault-injection.js';
import { describeValue, formatPath, isPlainObject, type FieldPath, type IssueSink } from './validate.js';

const PARSERS: Record<ResourceKind, KindParser<unknown>> = {
  Namespace: namespaceParser,
  ServiceAccount: serviceAccountParser,
  Service: serviceParser,
  Workload: workloadParser,
  MeshConfig: meshConfigParser,
  WorkloadInstance: workloadInstanceParser,
  TrafficTarget: trafficTargetParser,
  HTTPRouteGroup: httpRouteGroupParser,
  TCPRoute: l4RouteParser,
  UDPRoute: l4RouteParser,
  TrafficSplit: trafficSplitParser,
  HTTPRoute: httpRouteParser,
  GatewayClass: gatewayClassParser,
  Gateway: gatewayParser,
  Secret: secretParser,
  TrafficPolicy: trafficPolicyParser,
  FaultInjection: faultInjectionParser,
};

/**
 * Kinds whose spec depends on where the manifest was read from: a Gateway's
 * TLS file options are relative to the manifest's folder and made absolute.
 */
const WITH_SOURCE: Partial<Record<ResourceKind, (spec: unknown, source: SourceLocation) => unknown>> = {
  Gateway: (spec, source) => withAbsoluteTlsFiles(spec as GatewaySpec, source.file),
};

const ENVELOPE = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

export interface ObjectParseResult {
  resource?: Resource;
  /** Set instead of `resource` for a recognised foreign kind (Deployment, OSM MeshConfig, ...). */
  foreign?: ForeignDocument;
  errors: ManifestError[];
  warnings: ManifestWarning[];
}

/** Maps a field path to its 1-based line; YAML input knows, JSON input does not. */
export type Locator = (path: FieldPath) => number | undefined;

function supportedList(): string {
  return KINDS.map((d) => `${d.kind} (${d.versions.map((v) => apiVersionOf(d.group, v)).join(', ')})`).join('; ');
}

class Collector implements IssueSink {
  readonly errors: ManifestError[] = [];
  readonly warnings: ManifestWarning[] = [];
  constructor(private readonly source: SourceLocation, private readonly locate: Locator) {}
  private where(path: FieldPath) {
    return { file: this.source.file, document: this.source.document, line: this.locate(path) ?? this.source.line, path: formatPath(path) };
  }
  error(path: FieldPath, message: string, code: ErrorCode = ErrorCodes.INVALID_FIELD): void {
    this.errors.push({ code, ...this.where(path), message });
  }
  warn(path: FieldPath, message: string, code: WarningCode = WarningCodes.UNKNOWN_FIELD): void {
    this.warnings.push({ code, ...this.where(path), message });
  }
}

function didYouMean(kind: string): string {
  const lower = kind.toLowerCase();
  const d = KINDS.find((k) => k.kind.toLowerCase() === lower || k.singular === lower || k.plural === lower);
  return d ? ` (did you mean ${d.kind}?)` : '';
}

/**
 * Parses one document value. `source` is where it came from (file, document
 * index, line of the document); `locate` refines lines per field when known.
 */
export function parseDocumentValue(obj: unknown, source: SourceLocation, locate: Locator = () => undefined): ObjectParseResult {
  const sink = new Collector(source, locate);
  const done = (extra: Partial<ObjectParseResult> = {}): ObjectParseResult => ({ ...extra, errors: sink.errors, warnings: sink.warnings });

  if (!isPlainObject(obj)) {
    sink.error([], `a manifest must be a map with apiVersion, kind and metadata, got ${describeValue(obj)}`, ErrorCodes.NOT_AN_OBJECT);
    return done();
  }
  for (const field of ['apiVersion', 'kind'] as const) {
    if (obj[field] === undefined || obj[field] === null) sink.error([field], `${field} is required`, ErrorCodes.MISSING_FIELD);
    else if (typeof obj[field] !== 'string' || obj[field] === '') {
      sink.error([field], `${field} must be a non-empty string, got ${describeValue(obj[field])}`, ErrorCodes.INVALID_FIELD);
    }
  }
  if (sink.errors.length > 0) return done();
  const apiVersion = obj.apiVersion as string;
  const kind = obj.kind as string;
  const { group, version } = splitApiVersion(apiVersion);
  const descriptor = kindDescriptor(kind);

  if (descriptor && descriptor.group === group && descriptor.versions.includes(version)) {
    return done(parseMeshKind(obj, descriptor, version, source, sink));
  }
  if (descriptor && !apiVersion.includes('/') && descriptor.group !== '' && descriptor.versions.includes(version)) {
    // The SMI spec's own v1alpha1 example writes `apiVersion: v1alpha1`.
    const full = apiVersionOf(descriptor.group, version);
    sink.warn(['apiVersion'], `apiVersion "${apiVersion}" has no API group; read as ${full}`, WarningCodes.LEGACY_FORM);
    return done(parseMeshKind(obj, descriptor, version, source, sink));
  }
  const advice = foreignAdvice(group, kind);
  if (advice !== undefined) {
    const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
    const name = typeof meta.name === 'string' ? meta.name : '';
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
    sink.warn([], `${apiVersion} ${kind}${name ? ` "${name}"` : ''} is not stored in local mode: ${advice}`, WarningCodes.FOREIGN_KIND);
    return done({ foreign: { apiVersion, kind, name, namespace, source, advice } });
  }
  if (descriptor) {
    const served = descriptor.versions.map((v) => apiVersionOf(descriptor.group, v)).join(', ');
    sink.error(['apiVersion'], `${kind} is not served as "${apiVersion}"; supported apiVersions: ${served}`, ErrorCodes.UNKNOWN_API_VERSION);
    return done();
  }
  sink.error(
    ['kind'],
    `unknown kind "${kind}" (apiVersion "${apiVersion}")${didYouMean(kind)}; supported kinds: ${supportedList()}`,
    ErrorCodes.UNKNOWN_KIND,
  );
  return done();
}

function parseMeshKind(
  obj: Record<string, unknown>,
  descriptor: KindDescriptor,
  version: string,
  source: SourceLocation,
  sink: Collector,
): Partial<ObjectParseResult> {
  const parser = PARSERS[descriptor.kind];
  const legacy = parser.legacyTopLevel ?? [];
  const known = new Set([...ENVELOPE, ...legacy, ...(parser.ignoredTopLevel ?? [])]);
  for (const key of Object.keys(obj)) {
    if (!known.has(key)) sink.warn([key], `unknown field "${key}" is ignored`, WarningCodes.UNKNOWN_FIELD);
  }
  const errorsBefore = sink.errors.length;
  if (obj.metadata === undefined || obj.metadata === null) {
    sink.error(['metadata'], 'metadata is required (at least metadata.name)', ErrorCodes.MISSING_FIELD);
    return {};
  }
  const meta = parseMetadata(obj.metadata, ['metadata'], descriptor.namespaced, sink);
  if (!meta) return {};

  let body: unknown = obj.spec;
  let at: FieldPath = ['spec'];
  const legacyPresent = legacy.filter((k) => obj[k] !== undefined);
  if (obj.spec === undefined && legacyPresent.length === 0 && (parser.legacyVersions ?? []).includes(version)) {
    body = {}; // report the version's own top-level fields as missing, not `spec`
    at = [];
  } else if (legacyPresent.length > 0) {
    if (obj.spec === undefined) {
      body = Object.fromEntries(legacyPresent.map((k) => [k, obj[k]]));
      at = [];
      if (!(parser.legacyVersions ?? []).includes(version)) {
        sink.warn([legacyPresent[0]!], `${descriptor.kind} ${version} expects ${legacyPresent.join(', ')} under spec; read from the top level`, WarningCodes.LEGACY_FORM);
      }
    } else {
      for (const k of legacyPresent) sink.warn([k], `"${k}" outside spec is ignored because spec is set`, WarningCodes.UNKNOWN_FIELD);
    }
  }
  const parsed = parser.parseSpec({ body, at, version, meta, sink });
  if (parsed === undefined || sink.errors.length > errorsBefore) return {};
  const finish = WITH_SOURCE[descriptor.kind];
  const spec = finish ? finish(parsed, source) : parsed;
  const resource = { apiVersion: apiVersionOf(descriptor.group, version), kind: descriptor.kind, metadata: meta, spec, source } as Resource;
  if (obj.status !== undefined) resource.status = obj.status;
  return { resource };
}

/**
 * Parses a JSON object arriving over the admin API (any kind, including the
 * runner's WorkloadInstance). Errors name the field path; lines are the
 * source's line (1 when no source is given).
 */
export function parseObject(obj: unknown, source?: SourceLocation): ObjectParseResult {
  return parseDocumentValue(obj, source ?? { file: '<object>', document: 0, line: 1 });
}
