// Field schemas shared by several kinds. Messages are written without a
// subject ("must be ..."): validate() prefixes the field name.
import { z } from 'zod';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const dnsLabel = z
  .string()
  .max(63, { error: 'must be at most 63 characters' })
  .regex(DNS_LABEL, { error: 'must be a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit' });

export const objectName = z
  .string()
  .max(253, { error: 'must be at most 253 characters' })
  .regex(DNS_SUBDOMAIN, { error: 'must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit' });

export const portNumber = z
  .number()
  .int({ error: 'must be an integer between 1 and 65535' })
  .min(1, { error: 'must be an integer between 1 and 65535' })
  .max(65535, { error: 'must be an integer between 1 and 65535' });

/** A port written as a number or a numeric string ("8080"). */
export const portNumberOrNumericString = z.union([portNumber, z.string().regex(/^\d+$/, { error: 'must be a port number' })], {
  error: 'must be a port number',
});

export const stringMap = z.record(z.string(), z.string());

export const nonNegativeInt = z
  .number()
  .int({ error: 'must be a non-negative integer' })
  .min(0, { error: 'must be a non-negative integer' });

/** Accepted and deliberately ignored (no unknown-field warning). */
export const ignored = z.unknown().optional();
