// gateway.networking.k8s.io GatewayClass v1beta1 and v1 (cluster-scoped):
// which controller serves the Gateways of a class. Trellis serves classes
// whose controllerName is `trellis.dev/gateway-controller`; the status of a
// class is computed (src/compiler/status.ts), never parsed.
import { z } from 'zod';
import type { GatewayClassSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { WarningCodes } from './errors.js';
import { ignored } from './fields.js';
import { validate } from './validate.js';

/** The controllerName Trellis answers to. */
export const TRELLIS_GATEWAY_CONTROLLER = 'trellis.dev/gateway-controller';

/** Gateway API GatewayController: a domain-prefixed path such as `example.com/gateway`. */
const controllerName = z
  .string()
  .max(253, { error: 'must be at most 253 characters' })
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/, {
    error: `must be a domain-prefixed path such as ${TRELLIS_GATEWAY_CONTROLLER}`,
  });

const gatewayClassSpecSchema = z.object({
  controllerName,
  description: z.string().max(64, { error: 'must be at most 64 characters' }).optional(),
  parametersRef: ignored,
});

export const gatewayClassParser: KindParser<GatewayClassSpec> = {
  parseSpec({ body, at, sink }) {
    const raw = validate(gatewayClassSpecSchema, body, at, sink);
    if (!raw) return undefined;
    if (raw.parametersRef !== undefined) {
      sink.warn([...at, 'parametersRef'], 'parametersRef is ignored: Trellis gateway classes take no parameters', WarningCodes.UNKNOWN_FIELD);
    }
    const spec: GatewayClassSpec = { controllerName: raw.controllerName };
    if (raw.description !== undefined) spec.description = raw.description;
    return spec;
  },
};
