// Field schemas and checks of the Kubernetes Gateway API shared by HTTPRoute
// and the policy kinds: header names, API groups and kinds, section names,
// hostnames, durations. The patterns follow the Gateway API's shared types
// (`apis/v1/shared_types.go`); messages are written without a subject.
import { z } from 'zod';
import { ErrorCodes, TrellisResourceError } from './errors.js';
import { parseGatewayDuration } from './duration.js';
import { DNS_SUBDOMAIN } from './fields.js';
import { subjectOf, type FieldPath, type IssueSink } from './validate.js';

/** The Gateway API group: the default group of a parentRef. */
export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** An RFC 7230 token: what an HTTP header name (and a Gateway API query parameter name) may contain. */
export const HTTP_TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

export const headerName = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' })
  .regex(HTTP_TOKEN, { error: "must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~ only (no spaces, \":\" or \"/\")" });

const GROUP = new RegExp(`^$|${DNS_SUBDOMAIN.source}`);

/** An API group: '' (the core group) or a DNS subdomain such as gateway.networking.k8s.io. */
export const apiGroup = z
  .string()
  .max(253, { error: 'must be at most 253 characters' })
  .regex(GROUP, { error: 'must be "" (the core group) or a DNS subdomain such as gateway.networking.k8s.io' });

/** A Kubernetes kind such as Service. */
export const apiKind = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(63, { error: 'must be at most 63 characters' })
  .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, { error: 'must be a kind such as Service: letters, digits and "-", starting with a letter' });

/** The name of a referenced object (Gateway API ObjectName). */
export const referenceName = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(253, { error: 'must be at most 253 characters' });

/** A listener, port or rule name (Gateway API SectionName). */
export const sectionName = z
  .string()
  .max(253, { error: 'must be at most 253 characters' })
  .regex(DNS_SUBDOMAIN, { error: 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit' });

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Lower-cases a hostname and checks it as the Gateway API does: an RFC 1123
 * DNS name, no IP address, no port; with `wildcard`, a leading `*.` label is
 * allowed. Reports at `path` and returns undefined when it is not one.
 */
export function checkHostname(value: string, wildcard: boolean, path: FieldPath, sink: IssueSink): string | undefined {
  const h = value.trim().toLowerCase();
  const shown = JSON.stringify(value);
  let problem: string | undefined;
  if (h === '') problem = 'must not be empty';
  else if (h.includes(':') || h.startsWith('[')) problem = `${shown} has a port or is an IPv6 address: a hostname is a DNS name without a port`;
  else if (IPV4.test(h)) problem = `${shown} is an IP address: a hostname must be a DNS name`;
  else if (h.length > 253) problem = 'must be at most 253 characters';
  else {
    const name = wildcard && h.startsWith('*.') ? h.slice(2) : h;
    if (!DNS_SUBDOMAIN.test(name)) {
      problem = wildcard
        ? `${shown} is not a DNS name: letters, digits, "-" and ".", optionally after a leading "*." (the only wildcard allowed)`
        : `${shown} is not a DNS name: letters, digits, "-" and ".", no wildcard`;
    } else if (name.split('.').some((label) => label.length > 63)) {
      problem = `${shown} has a label longer than 63 characters`;
    }
  }
  if (problem === undefined) return h;
  sink.error(path, problem.startsWith('must ') ? `${subjectOf(path)} ${problem}` : problem, ErrorCodes.INVALID_FIELD);
  return undefined;
}

/**
 * A Gateway API duration (GEP-2257: `500ms`, `10s`, `1h30m`, `0s`) in
 * milliseconds; reports at `path` and returns undefined when it is not one.
 */
export function gatewayDurationMs(value: string, path: FieldPath, sink: IssueSink): number | undefined {
  try {
    return parseGatewayDuration(value);
  } catch (e) {
    sink.error(path, `${subjectOf(path)}: ${e instanceof TrellisResourceError ? e.message : String(e)}`, ErrorCodes.INVALID_FIELD);
    return undefined;
  }
}
