// core/v1 kinds: Namespace, ServiceAccount, Service.
import { z } from 'zod';
import type { AppProtocol, ServicePort, ServiceSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { WarningCodes } from './errors.js';
import { ignored, portNumber, stringMap } from './fields.js';
import { validate, type FieldPath, type IssueSink } from './validate.js';

type Empty = Record<string, never>;

export const namespaceParser: KindParser<Empty> = {
  ignoredTopLevel: [],
  parseSpec({ body, at, sink }) {
    if (body !== undefined) validate(z.object({ finalizers: ignored }), body, at, sink);
    return {};
  },
};

export const serviceAccountParser: KindParser<Empty> = {
  ignoredTopLevel: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  parseSpec({ body, at, sink }) {
    if (body !== undefined) sink.warn(at, 'a ServiceAccount has no spec; it is ignored', WarningCodes.UNKNOWN_FIELD);
    return {};
  },
};

const servicePortSchema = z.object({
  name: z.string().optional(),
  port: portNumber,
  targetPort: z
    .union([portNumber, z.string().min(1)], { error: 'must be a port number or the name of a port' })
    .optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP'], { error: 'must be TCP, UDP or SCTP' }).optional(),
  appProtocol: z.string().optional(),
  nodePort: ignored,
});

const serviceSpecSchema = z.object({
  selector: stringMap.optional(),
  ports: z.array(servicePortSchema).optional(),
  clusterIP: z.string().optional(),
  // Kubernetes Service fields with no meaning in the mesh; accepted silently.
  type: ignored,
  clusterIPs: ignored,
  ipFamilies: ignored,
  ipFamilyPolicy: ignored,
  sessionAffinity: ignored,
  sessionAffinityConfig: ignored,
  externalTrafficPolicy: ignored,
  internalTrafficPolicy: ignored,
  publishNotReadyAddresses: ignored,
  loadBalancerIP: ignored,
  loadBalancerSourceRanges: ignored,
  externalIPs: ignored,
  externalName: ignored,
});

const DB_NAME = /^(redis|mysql)(-.*)?$|^(postgres|mongo)/;

function fromName(name: string): AppProtocol | undefined {
  const n = name.toLowerCase();
  const is = (p: string) => n === p || n.startsWith(`${p}-`);
  if (is('http2') || is('h2c')) return 'http2';
  if (is('http')) return 'http';
  if (n.startsWith('grpc')) return 'grpc';
  if (is('tcp') || is('https') || is('tls') || DB_NAME.test(n)) return 'tcp';
  return undefined;
}

/**
 * appProtocol field, else the port-name convention (`http`, `http-*`, `http2`,
 * `grpc*`, `tcp`, `tcp-*`, databases → tcp), else http. UDP/SCTP ports are tcp (opaque L4).
 */
export function appProtocolOf(port: { name?: string; appProtocol?: string; protocol?: string }, at: FieldPath, sink: IssueSink): AppProtocol {
  if (port.protocol === 'UDP' || port.protocol === 'SCTP') return 'tcp';
  if (port.appProtocol !== undefined) {
    const a = port.appProtocol.toLowerCase();
    if (a === 'http' || a === 'http/1.1' || a === 'kubernetes.io/http') return 'http';
    if (a === 'http2' || a === 'h2c' || a === 'kubernetes.io/h2c') return 'http2';
    if (a === 'grpc') return 'grpc';
    const byName = fromName(a);
    if (byName !== 'tcp' && a !== 'tcp') {
      sink.warn([...at, 'appProtocol'], `appProtocol "${port.appProtocol}" is treated as opaque tcp`, WarningCodes.SUSPICIOUS_VALUE);
    }
    return 'tcp';
  }
  return (port.name !== undefined ? fromName(port.name) : undefined) ?? 'http';
}

export const serviceParser: KindParser<ServiceSpec> = {
  parseSpec({ body, at, sink }) {
    const raw = validate(serviceSpecSchema, body ?? {}, at, sink);
    if (!raw) return undefined;
    const ports: ServicePort[] = [];
    (raw.ports ?? []).forEach((p, i) => {
      const port: ServicePort = {
        port: p.port,
        targetPort: typeof p.targetPort === 'string' && /^\d+$/.test(p.targetPort) ? Number(p.targetPort) : (p.targetPort ?? p.port),
        protocol: p.protocol ?? 'TCP',
        appProtocol: appProtocolOf(p, [...at, 'ports', i], sink),
      };
      if (p.name !== undefined) port.name = p.name;
      ports.push(port);
    });
    const spec: ServiceSpec = { selector: raw.selector ?? {}, ports };
    if (raw.clusterIP !== undefined) spec.clusterIP = raw.clusterIP;
    return spec;
  },
};
