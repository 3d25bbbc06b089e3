// trellis.dev/v1alpha1 Workload: a local-mode process (command, env,
// replicas, ports, upstreams, service account, zone).
import { z } from 'zod';
import type { WorkloadPort, WorkloadSpec, WorkloadUpstream } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes } from './errors.js';
import { dnsLabel, nonNegativeInt, objectName, portNumber } from './fields.js';
import { validate } from './validate.js';

/** Env values: strings; numbers and booleans are accepted and written as strings (`PORT: 8080`). */
const envValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }).transform(String);

const envSchema = z.union(
  [
    z.record(z.string(), envValue),
    z.array(z.object({ name: z.string().min(1, { error: 'must not be empty' }), value: envValue.optional() })),
  ],
  { error: 'must be a map of NAME: value, or a list of {name, value}' },
);

const workloadSpecSchema = z.object({
  command: z.array(z.string(), { error: 'must be a list of strings (argv)' }).min(1, { error: 'must not be empty' }),
  env: envSchema.optional(),
  replicas: nonNegativeInt.optional(),
  serviceAccountName: objectName.optional(),
  ports: z
    .array(
      z.object({
        name: dnsLabel,
        port: portNumber.optional(),
        protocol: z.enum(['TCP', 'UDP'], { error: 'must be TCP or UDP' }).optional(),
      }),
    )
    .optional(),
  zone: z.string().optional(),
  upstreams: z
    .array(
      z.object({
        service: objectName,
        namespace: dnsLabel.optional(),
        port: portNumber,
        localPort: portNumber.optional(),
      }),
    )
    .optional(),
  workingDir: z.string().optional(),
});

export const workloadParser: KindParser<WorkloadSpec> = {
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(workloadSpecSchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;

    const env: Record<string, string> = {};
    if (Array.isArray(raw.env)) for (const e of raw.env) env[e.name] = e.value ?? '';
    else if (raw.env) Object.assign(env, raw.env);

    const ports: WorkloadPort[] = [];
    const seen = new Set<string>();
    (raw.ports ?? []).forEach((p, i) => {
      if (seen.has(p.name)) {
        sink.error([...at, 'ports', i, 'name'], `port name "${p.name}" is used twice`, ErrorCodes.DUPLICATE_NAME);
        ok = false;
      }
      seen.add(p.name);
      const port: WorkloadPort = { name: p.name, protocol: p.protocol ?? 'TCP' };
      if (p.port !== undefined) port.port = p.port;
      ports.push(port);
    });

    const upstreams: WorkloadUpstream[] = (raw.upstreams ?? []).map((u) => {
      const up: WorkloadUpstream = { service: u.service, namespace: u.namespace ?? meta.namespace, port: u.port };
      if (u.localPort !== undefined) up.localPort = u.localPort;
      return up;
    });

    const spec: WorkloadSpec = {
      command: raw.command,
      env,
      replicas: raw.replicas ?? 1,
      serviceAccountName: raw.serviceAccountName ?? 'default',
      ports,
      upstreams,
    };
    if (raw.zone !== undefined) spec.zone = raw.zone;
    if (raw.workingDir !== undefined) spec.workingDir = raw.workingDir;
    return ok ? spec : undefined;
  },
};
