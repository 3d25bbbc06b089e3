// access.smi-spec.io TrafficTarget v1alpha1..v1alpha3, normalised to
// { destination, rules, sources }. v1alpha1 puts the fields at the top level
// and calls the rules `specs`; later versions nest them under `spec`.
import { z } from 'zod';
import type { IdentityBinding, TrafficTargetRule, TrafficTargetSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, WarningCodes } from './errors.js';
import { dnsLabel, objectName, portNumberOrNumericString } from './fields.js';
import { validate } from './validate.js';

const identitySchema = z.object({
  kind: z.literal('ServiceAccount', { error: 'must be ServiceAccount (the only identity kind SMI defines)' }).optional(),
  name: objectName,
  namespace: dnsLabel.optional(),
});

const ruleSchema = z.object({
  kind: z.enum(['HTTPRouteGroup', 'TCPRoute', 'UDPRoute'], { error: 'must be HTTPRouteGroup, TCPRoute or UDPRoute' }),
  name: objectName,
  matches: z.array(z.string()).optional(),
});

const trafficTargetBodySchema = z.object({
  destination: identitySchema.extend({ port: portNumberOrNumericString.optional() }),
  rules: z.array(ruleSchema).optional(),
  /** v1alpha1 name of `rules`. */
  specs: z.array(ruleSchema).optional(),
  sources: z.array(identitySchema, { error: 'must be a list of ServiceAccount identities' }),
});

export const trafficTargetParser: KindParser<TrafficTargetSpec> = {
  legacyTopLevel: ['destination', 'specs', 'rules', 'sources'],
  legacyVersions: ['v1alpha1'],
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(trafficTargetBodySchema, body, at, sink);
    if (!raw) return undefined;
    if (raw.rules && raw.specs) {
      sink.warn([...at, 'specs'], 'both rules and specs are set; specs (the v1alpha1 name) is ignored', WarningCodes.LEGACY_FORM);
    }
    const rawRules = raw.rules ?? raw.specs;
    if (!rawRules) {
      sink.error([...at, 'rules'], 'rules is required (v1alpha1: specs)', ErrorCodes.MISSING_FIELD);
      return undefined;
    }
    const binding = (b: z.infer<typeof identitySchema>): IdentityBinding => ({
      kind: 'ServiceAccount',
      name: b.name,
      namespace: b.namespace ?? meta.namespace,
    });
    const destination: TrafficTargetSpec['destination'] = binding(raw.destination);
    if (raw.destination.port !== undefined) destination.port = Number(raw.destination.port);
    const rules = rawRules.map((r): TrafficTargetRule => {
      const rule: TrafficTargetRule = { kind: r.kind, name: r.name };
      if (r.matches !== undefined) rule.matches = r.matches;
      return rule;
    });
    if (raw.sources.length === 0) {
      sink.warn([...at, 'sources'], 'sources is empty: this TrafficTarget allows nobody', WarningCodes.SUSPICIOUS_VALUE);
    }
    return { destination, rules, sources: raw.sources.map(binding) };
  },
};
