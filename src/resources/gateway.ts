// gateway.networking.k8s.io Gateway v1beta1 and v1: an ingress gateway's
// listeners (port, protocol, hostname, TLS, which routes may attach) and the
// class that serves it, normalised to the canonical GatewaySpec. The Gateway
// API's validation rules (its CRD's CEL rules) are checked here and reported
// at their field paths; what only the other objects can decide (does the
// class exist, do the certificate Secrets) is the status's business
// (src/compiler/status.ts).
import path from 'node:path';
import { z } from 'zod';
import type { GatewayListener, GatewaySpec, GatewayTLSConfig, ObjectMeta, SecretObjectReference } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes } from './errors.js';
import { DNS_SUBDOMAIN, dnsLabel, ignored, portNumber, stringMap } from './fields.js';
import { GATEWAY_API_GROUP, apiGroup, apiKind, checkHostname, referenceName } from './gateway-fields.js';
import { validate, type FieldPath, type IssueSink } from './validate.js';

/** TLS option: PEM certificate (chain) file of a listener that has no certificateRefs. */
export const CERT_FILE_OPTION = 'trellis.dev/cert-file';
/** TLS option: PEM private key file of a listener that has no certificateRefs. */
export const KEY_FILE_OPTION = 'trellis.dev/key-file';
/** Gateway `spec.infrastructure.annotations` key naming the service account the gateway proxy runs as. */
export const SERVICE_ACCOUNT_ANNOTATION = 'trellis.dev/service-account';

export const GATEWAY_LIMITS = Object.freeze({ listeners: 64, certificateRefs: 64, tlsOptions: 16, routeKinds: 8 });

export type ListenerProtocol = GatewayListener['protocol'];
const PROTOCOLS: readonly ListenerProtocol[] = ['HTTP', 'HTTPS', 'TCP', 'TLS'];

/** The route kinds a listener of each protocol takes when allowedRoutes.kinds is empty (Gateway API: "determined using the Listener protocol"). */
export function defaultRouteKinds(protocol: ListenerProtocol): { group: string; kind: string }[] {
  const kind = protocol === 'TCP' ? 'TCPRoute' : protocol === 'TLS' ? 'TLSRoute' : 'HTTPRoute';
  return [{ group: GATEWAY_API_GROUP, kind }];
}

const atMost = (n: number) => ({ error: `must have at most ${n} entries` });

const secretRefSchema = z.object({
  group: apiGroup.optional(),
  kind: apiKind.optional(),
  name: referenceName,
  namespace: dnsLabel.optional(),
});

const tlsSchema = z.object({
  mode: z.enum(['Terminate', 'Passthrough'], { error: 'must be Terminate or Passthrough' }).optional(),
  certificateRefs: z.array(secretRefSchema).max(GATEWAY_LIMITS.certificateRefs, atMost(GATEWAY_LIMITS.certificateRefs)).optional(),
  options: stringMap
    .refine((m) => Object.keys(m).length <= GATEWAY_LIMITS.tlsOptions, { error: `must have at most ${GATEWAY_LIMITS.tlsOptions} entries` })
    .optional(),
  frontendValidation: ignored,
});

const allowedRoutesSchema = z.object({
  namespaces: z
    .object({
      from: z.enum(['Same', 'All', 'Selector'], { error: 'must be Same, All or Selector' }).optional(),
      selector: z
        .object({
          matchLabels: stringMap.optional(),
          matchExpressions: z.array(z.unknown(), { error: 'must be a list' }).optional(),
        })
        .optional(),
    })
    .optional(),
  kinds: z
    .array(z.object({ group: apiGroup.optional(), kind: apiKind }))
    .max(GATEWAY_LIMITS.routeKinds, atMost(GATEWAY_LIMITS.routeKinds))
    .optional(),
});

const listenerSchema = z.object({
  name: dnsLabel,
  hostname: z.string().optional(),
  port: portNumber,
  protocol: z.string().min(1, { error: 'must not be empty' }),
  tls: tlsSchema.optional(),
  allowedRoutes: allowedRoutesSchema.optional(),
});

const gatewaySpecSchema = z.object({
  gatewayClassName: referenceName,
  listeners: z
    .array(listenerSchema)
    .min(1, { error: 'must list at least one listener' })
    .max(GATEWAY_LIMITS.listeners, atMost(GATEWAY_LIMITS.listeners)),
  addresses: ignored,
  infrastructure: z
    .object({
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
      parametersRef: ignored,
    })
    .optional(),
});
type RawListener = z.infer<typeof listenerSchema>;

function parseTls(
  raw: NonNullable<RawListener['tls']>,
  protocol: ListenerProtocol,
  at: FieldPath,
  meta: ObjectMeta,
  sink: IssueSink,
): GatewayTLSConfig | undefined {
  let ok = true;
  const mode = raw.mode ?? 'Terminate';
  if (protocol === 'HTTPS' && mode !== 'Terminate') {
    sink.error([...at, 'mode'], 'tls.mode must be Terminate for protocol HTTPS (Passthrough is for TLS listeners)', ErrorCodes.INVALID_FIELD);
    ok = false;
  }
  const certificateRefs: SecretObjectReference[] = (raw.certificateRefs ?? []).map((r) => ({
    group: r.group ?? '',
    kind: r.kind ?? 'Secret',
    namespace: r.namespace ?? meta.namespace,
    name: r.name,
  }));
  const options = { ...(raw.options ?? {}) };
  if (mode === 'Terminate' && certificateRefs.length === 0) {
    const cert = options[CERT_FILE_OPTION];
    const key = options[KEY_FILE_OPTION];
    if (cert === undefined && key === undefined) {
      sink.error(
        at,
        `tls needs a certificate: certificateRefs to a kubernetes.io/tls Secret, or options "${CERT_FILE_OPTION}" and "${KEY_FILE_OPTION}" (PEM files)`,
        ErrorCodes.MISSING_FIELD,
      );
      ok = false;
    } else if (cert === undefined || key === undefined) {
      const missing = cert === undefined ? CERT_FILE_OPTION : KEY_FILE_OPTION;
      const given = cert === undefined ? KEY_FILE_OPTION : CERT_FILE_OPTION;
      sink.error([...at, 'options'], `options "${given}" needs "${missing}" too`, ErrorCodes.MISSING_FIELD);
      ok = false;
    }
    for (const k of [CERT_FILE_OPTION, KEY_FILE_OPTION]) {
      if (options[k] === '') {
        sink.error([...at, 'options', k], `options "${k}" must be a file path`, ErrorCodes.INVALID_FIELD);
        ok = false;
      }
    }
  }
  return ok ? { mode, certificateRefs, options } : undefined;
}

function parseAllowedRoutes(
  raw: RawListener['allowedRoutes'],
  protocol: ListenerProtocol,
  at: FieldPath,
  sink: IssueSink,
): GatewayListener['allowedRoutes'] | undefined {
  let ok = true;
  const from = raw?.namespaces?.from ?? 'Same';
  const namespaces: GatewayListener['allowedRoutes']['namespaces'] = { from };
  if (from === 'Selector') {
    const selector = raw?.namespaces?.selector;
    if (!selector) {
      sink.error([...at, 'namespaces', 'selector'], 'selector is required when from is Selector (matchLabels of the namespaces allowed)', ErrorCodes.MISSING_FIELD);
      ok = false;
    } else {
      if ((selector.matchExpressions ?? []).length > 0) {
        sink.error(
          [...at, 'namespaces', 'selector', 'matchExpressions'],
          'matchExpressions is not supported yet; select namespaces with matchLabels',
          ErrorCodes.INVALID_FIELD,
        );
        ok = false;
      }
      namespaces.selector = { matchLabels: { ...(selector.matchLabels ?? {}) } };
    }
  }
  const kinds =
    raw?.kinds && raw.kinds.length > 0
      ? raw.kinds.map((k) => ({ group: k.group ?? GATEWAY_API_GROUP, kind: k.kind }))
      : defaultRouteKinds(protocol);
  return ok ? { namespaces, kinds } : undefined;
}

function parseListener(raw: RawListener, at: FieldPath, meta: ObjectMeta, sink: IssueSink): GatewayListener | undefined {
  let ok = true;
  const upper = raw.protocol.toUpperCase();
  const protocol = upper as ListenerProtocol;
  if (!PROTOCOLS.includes(protocol)) {
    const extra = upper === 'UDP' ? ' (Trellis gateways do not carry UDP)' : '';
    sink.error([...at, 'protocol'], `protocol must be HTTP, HTTPS, TCP or TLS, got ${JSON.stringify(raw.protocol)}${extra}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
  let hostname: string | undefined;
  if (raw.hostname !== undefined && raw.hostname !== '') {
    if (protocol === 'TCP') {
      sink.error([...at, 'hostname'], 'hostname must not be set for protocol TCP (TCP has no host to match)', ErrorCodes.INVALID_FIELD);
      ok = false;
    } else {
      hostname = checkHostname(raw.hostname, true, [...at, 'hostname'], sink);
      if (hostname === undefined) ok = false;
    }
  }
  let tls: GatewayTLSConfig | undefined;
  if (protocol === 'HTTP' || protocol === 'TCP') {
    if (raw.tls !== undefined) {
      sink.error([...at, 'tls'], `tls must not be set for protocol ${protocol}; use protocol ${protocol === 'HTTP' ? 'HTTPS' : 'TLS'} to serve TLS`, ErrorCodes.INVALID_FIELD);
      ok = false;
    }
  } else if (raw.tls === undefined) {
    sink.error(
      [...at, 'tls'],
      `tls is required for protocol ${protocol}: certificateRefs to a kubernetes.io/tls Secret, or options "${CERT_FILE_OPTION}" and "${KEY_FILE_OPTION}"`,
      ErrorCodes.MISSING_FIELD,
    );
    ok = false;
  } else {
    tls = parseTls(raw.tls, protocol, [...at, 'tls'], meta, sink);
    if (!tls) ok = false;
  }
  const allowedRoutes = parseAllowedRoutes(raw.allowedRoutes, protocol, [...at, 'allowedRoutes'], sink);
  if (!allowedRoutes) ok = false;
  if (!ok || !allowedRoutes) return undefined;
  const listener: GatewayListener = { name: raw.name, port: raw.port, protocol, allowedRoutes };
  if (hostname !== undefined) listener.hostname = hostname;
  if (tls) listener.tls = tls;
  return listener;
}

export const gatewayParser: KindParser<GatewaySpec> = {
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(gatewaySpecSchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;

    const listeners: GatewayListener[] = [];
    const names = new Map<string, number>();
    const distinct = new Map<string, number>();
    raw.listeners.forEach((rl, i) => {
      const lat: FieldPath = [...at, 'listeners', i];
      const first = names.get(rl.name);
      if (first !== undefined) {
        sink.error([...lat, 'name'], `listener name "${rl.name}" is used twice (listeners[${first}] has it); names must be unique in a Gateway`, ErrorCodes.DUPLICATE_NAME);
        ok = false;
      } else {
        names.set(rl.name, i);
      }
      const l = parseListener(rl, lat, meta, sink);
      if (!l) {
        ok = false;
        return;
      }
      // Gateway API: the combination of port, protocol and hostname must be unique (listener conflicts).
      const key = `${l.port}|${l.protocol}|${l.hostname ?? ''}`;
      const other = distinct.get(key);
      if (other !== undefined) {
        const host = l.hostname ? `hostname ${l.hostname}` : 'no hostname';
        sink.error(
          lat,
          `listeners[${i}] ("${l.name}") conflicts with listeners[${other}] ("${raw.listeners[other]!.name}"): both are ${l.protocol} on port ${l.port} with ${host}; the combination of port, protocol and hostname must be unique`,
          ErrorCodes.INVALID_FIELD,
        );
        ok = false;
      } else {
        distinct.set(key, i);
      }
      listeners.push(l);
    });

    if (raw.addresses !== undefined) {
      sink.warn([...at, 'addresses'], 'addresses are ignored: Trellis chooses where a gateway listens', WarningCodes.UNKNOWN_FIELD);
    }
    if (raw.infrastructure?.parametersRef !== undefined) {
      sink.warn([...at, 'infrastructure', 'parametersRef'], 'parametersRef is ignored: Trellis gateways take no parameters', WarningCodes.UNKNOWN_FIELD);
    }
    let serviceAccountName = meta.name;
    const sa = raw.infrastructure?.annotations?.[SERVICE_ACCOUNT_ANNOTATION];
    if (sa !== undefined) {
      if (sa.length > 253 || !DNS_SUBDOMAIN.test(sa)) {
        sink.error(
          [...at, 'infrastructure', 'annotations', SERVICE_ACCOUNT_ANNOTATION],
          `${JSON.stringify(sa)} is not a service account name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
          ErrorCodes.INVALID_FIELD,
        );
        ok = false;
      } else {
        serviceAccountName = sa;
      }
    }
    return ok ? { gatewayClassName: raw.gatewayClassName, listeners, serviceAccountName } : undefined;
  },
};

/**
 * Whether a SourceLocation's `file` is a path on disk (and so a base for
 * relative paths): not `<stdin>`/`<object>`, nor the admin API's
 * `objects[0]`/`files[0]` placeholders.
 */
export function isManifestFilePath(file: string): boolean {
  return file !== '' && !file.startsWith('<') && !/^[A-Za-z_]+\[\d+\]$/.test(file);
}

/**
 * The TLS file options (`trellis.dev/cert-file`, `trellis.dev/key-file`)
 * made absolute against the folder of the manifest they were written in.
 * Returns `spec` itself when nothing changes (inline objects keep their paths).
 */
export function withAbsoluteTlsFiles(spec: GatewaySpec, manifestFile: string): GatewaySpec {
  if (!isManifestFilePath(manifestFile)) return spec;
  const dir = path.dirname(path.resolve(manifestFile));
  let changed = false;
  const listeners = spec.listeners.map((l) => {
    if (!l.tls) return l;
    const options = { ...l.tls.options };
    for (const k of [CERT_FILE_OPTION, KEY_FILE_OPTION]) {
      const v = options[k];
      if (v !== undefined && v !== '' && !path.isAbsolute(v)) {
        options[k] = path.resolve(dir, v);
        changed = true;
      }
    }
    return { ...l, tls: { ...l.tls, options } };
  });
  return changed ? { ...spec, listeners } : spec;
}
