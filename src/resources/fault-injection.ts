// policy.trellis.dev/v1alpha1 FaultInjection: for calls to one Service,
// abort a share of the requests with a status and/or delay a share of them,
// optionally only for requests that satisfy an HTTPRouteMatch.
import { z } from 'zod';
import type { FaultInjectionSpec, FaultRule } from './types.js';
import type { KindParser } from './kind-parser.js';
import { ErrorCodes } from './errors.js';
import { httpRouteMatchSchema, normaliseHTTPRouteMatch } from './http-match.js';
import { durationMs, durationString, percentage, policyTargetRef, targetRefSchema } from './policy-common.js';
import { validate } from './validate.js';

/** The longest delay a fault may inject. */
export const MAX_FAULT_DELAY_MS = 3_600_000;

const faultInjectionSpecSchema = z.object({
  targetRef: targetRefSchema,
  rules: z
    .array(
      z.object({
        match: httpRouteMatchSchema.optional(),
        abort: z
          .object({
            httpStatus: z
              .number()
              .int({ error: 'must be an HTTP status code from 200 to 599' })
              .min(200, { error: 'must be an HTTP status code from 200 to 599' })
              .max(599, { error: 'must be an HTTP status code from 200 to 599' }),
            percentage: percentage.optional(),
          })
          .optional(),
        delay: z.object({ fixedDelay: durationString, percentage: percentage.optional() }).optional(),
      }),
    )
    .min(1, { error: 'must list at least one rule' }),
});

export const faultInjectionParser: KindParser<FaultInjectionSpec> = {
  parseSpec({ body, at, meta, sink }) {
    const raw = validate(faultInjectionSpecSchema, body, at, sink);
    if (!raw) return undefined;
    let ok = true;
    const targetRef = policyTargetRef(raw.targetRef, [...at, 'targetRef'], meta, 'FaultInjection', sink);
    if (!targetRef) ok = false;
    const rules: FaultRule[] = [];
    raw.rules.forEach((r, i) => {
      const rp = [...at, 'rules', i];
      const rule: FaultRule = {};
      if (r.abort === undefined && r.delay === undefined) {
        sink.error(rp, 'a fault rule needs abort, delay or both', ErrorCodes.MISSING_FIELD);
        ok = false;
        return;
      }
      if (r.match !== undefined) {
        const match = normaliseHTTPRouteMatch(r.match, [...rp, 'match'], sink);
        if (match) rule.match = match;
        else ok = false;
      }
      if (r.abort !== undefined) rule.abort = { httpStatus: r.abort.httpStatus, percentage: r.abort.percentage ?? 100 };
      if (r.delay !== undefined) {
        const ms = durationMs(r.delay.fixedDelay, [...rp, 'delay', 'fixedDelay'], sink, { maxMs: MAX_FAULT_DELAY_MS });
        if (ms === undefined) ok = false;
        else rule.delay = { fixedDelayMs: ms, percentage: r.delay.percentage ?? 100 };
      }
      rules.push(rule);
    });
    return ok ? { targetRef: targetRef!, rules } : undefined;
  },
};
