// trellis.dev/v1alpha1 WorkloadInstance: one running local-mode replica,
// written as JSON by the local runner. The check is structural only.
import { z } from 'zod';
import type { WorkloadInstanceSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { nonNegativeInt, objectName, portNumber, stringMap } from './fields.js';
import { validate } from './validate.js';

const workloadInstanceSpecSchema = z.object({
  workload: objectName,
  index: nonNegativeInt,
  serviceAccountName: objectName,
  labels: stringMap,
  zone: z.string().optional(),
  address: z.string().min(1, { error: 'must not be empty' }),
  ports: z.array(z.object({ name: z.string(), port: portNumber, inboundPort: portNumber })),
  outboundPort: portNumber,
  adminPort: portNumber,
  upstreams: z.array(
    z.object({ service: objectName, namespace: z.string(), port: portNumber, localPort: portNumber }),
  ),
  ready: z.boolean(),
  gateway: z.string().optional(),
});

export const workloadInstanceParser: KindParser<WorkloadInstanceSpec> = {
  parseSpec({ body, at, sink }) {
    const raw = validate(workloadInstanceSpecSchema, body, at, sink);
    if (!raw) return undefined;
    const spec: WorkloadInstanceSpec = {
      workload: raw.workload,
      index: raw.index,
      serviceAccountName: raw.serviceAccountName,
      labels: raw.labels,
      address: raw.address,
      ports: raw.ports,
      outboundPort: raw.outboundPort,
      adminPort: raw.adminPort,
      upstreams: raw.upstreams,
      ready: raw.ready,
    };
    if (raw.zone !== undefined) spec.zone = raw.zone;
    if (raw.gateway !== undefined) spec.gateway = raw.gateway;
    return spec;
  },
};
