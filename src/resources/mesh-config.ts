// trellis.dev/v1alpha1 MeshConfig (cluster-scoped): mTLS mode, default access
// mode, certificate lifetime and rotation point, trust domain, tracing and
// access logs (docs/observability.md).
import path from 'node:path';
import { z } from 'zod';
import type { MeshConfigSpec } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes, TrellisResourceError } from './errors.js';
import { parseDuration } from './duration.js';
import { validate } from './validate.js';

export { parseDuration } from './duration.js';

/** Certificates shorter than this cannot be rotated safely. */
export const MIN_CERT_LIFETIME_MS = 2000;

/** The mesh-wide defaults: STRICT mTLS, deny by default, 24h certificates rotated at half-life, cluster.local. */
export function defaultMeshConfigSpec(): MeshConfigSpec {
  return {
    mtls: { mode: 'STRICT' },
    access: { mode: 'deny' },
    certificates: { lifetimeMs: 24 * 3_600_000, rotateAt: 0.5 },
    trustDomain: 'cluster.local',
    // Every request traced: local mode is for development, where a request you
    // cannot find in the traces is the surprise (Istio's 1% suits production volume).
    tracing: { samplingPercent: 100 },
    accessLog: { enabled: true },
  };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

const collectorSchema = z.object({
  url: z.string().refine(isHttpUrl, { error: 'must be an http:// or https:// URL, such as http://127.0.0.1:9411/api/v2/spans' }),
});

const meshConfigSpecSchema = z.object({
  mtls: z.object({ mode: z.enum(['STRICT', 'PERMISSIVE'], { error: 'must be STRICT or PERMISSIVE' }).optional() }).optional(),
  access: z.object({ mode: z.enum(['deny', 'permissive'], { error: 'must be deny or permissive' }).optional() }).optional(),
  certificates: z
    .object({
      lifetime: z.string({ error: "must be a duration string such as '24h' or '1h30m'" }).optional(),
      rotateAt: z
        .number()
        .gt(0, { error: 'must be a fraction between 0 and 1 (exclusive)' })
        .lt(1, { error: 'must be a fraction between 0 and 1 (exclusive)' })
        .optional(),
    })
    .optional(),
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/, { error: 'must be a trust domain such as cluster.local (lower-case letters, digits, ".", "-", "_")' })
    .optional(),
  tracing: z
    .object({
      samplingPercent: z
        .number()
        .min(0, { error: 'must be a percentage from 0 to 100' })
        .max(100, { error: 'must be a percentage from 0 to 100' })
        .optional(),
      zipkin: collectorSchema.optional(),
      otlp: collectorSchema.optional(),
    })
    .optional(),
  accessLog: z
    .object({
      enabled: z.boolean().optional(),
      file: z.string().refine((f) => path.isAbsolute(f), { error: 'must be an absolute path (every proxy appends to it)' }).optional(),
    })
    .optional(),
});

export const meshConfigParser: KindParser<MeshConfigSpec> = {
  parseSpec({ body, at, sink }) {
    const raw = validate(meshConfigSpecSchema, body ?? {}, at, sink);
    if (!raw) return undefined;
    const spec = defaultMeshConfigSpec();
    if (raw.mtls?.mode) spec.mtls.mode = raw.mtls.mode;
    if (raw.access?.mode) spec.access.mode = raw.access.mode;
    if (raw.certificates?.rotateAt !== undefined) spec.certificates.rotateAt = raw.certificates.rotateAt;
    if (raw.trustDomain !== undefined) spec.trustDomain = raw.trustDomain;
    if (raw.tracing?.samplingPercent !== undefined) spec.tracing.samplingPercent = raw.tracing.samplingPercent;
    if (raw.tracing?.zipkin) spec.tracing.zipkin = { url: raw.tracing.zipkin.url };
    if (raw.tracing?.otlp) spec.tracing.otlp = { url: raw.tracing.otlp.url };
    if (raw.accessLog?.enabled !== undefined) spec.accessLog.enabled = raw.accessLog.enabled;
    if (raw.accessLog?.file !== undefined) spec.accessLog.file = raw.accessLog.file;
    if (raw.certificates?.lifetime !== undefined) {
      const path = [...at, 'certificates', 'lifetime'];
      let ms: number;
      try {
        ms = parseDuration(raw.certificates.lifetime);
      } catch (e) {
        sink.error(path, `lifetime: ${e instanceof TrellisResourceError ? e.message : String(e)}`, ErrorCodes.INVALID_FIELD);
        return undefined;
      }
      if (ms < MIN_CERT_LIFETIME_MS) {
        sink.error(path, `lifetime must be at least 2s, got ${raw.certificates.lifetime}`, ErrorCodes.INVALID_FIELD);
        return undefined;
      }
      spec.certificates.lifetimeMs = ms;
    }
    return spec;
  },
};
