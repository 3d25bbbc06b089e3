// metadata: name, namespace (defaulted by scope), labels, annotations, and the
// store-managed fields when an object comes back over the admin API.
import { z } from 'zod';
import type { ObjectMeta } from './types.js';
import { WarningCodes } from './errors.js';
import { ignored, objectName, stringMap } from './fields.js';
import { validate, type FieldPath, type IssueSink } from './validate.js';

export const metadataSchema = z.object({
  name: objectName,
  namespace: z
    .string()
    .max(63, { error: 'must be at most 63 characters' })
    .regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'must be a DNS label: lower-case letters, digits and "-"' })
    .optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  creationTimestamp: z.string().optional(),
  generation: z.number().int().optional(),
  // Kubernetes bookkeeping a user may copy from `kubectl get -o yaml`.
  managedFields: ignored,
  ownerReferences: ignored,
  finalizers: ignored,
  selfLink: ignored,
  deletionTimestamp: ignored,
  deletionGracePeriodSeconds: ignored,
});

/** Validates metadata at `at` and applies the namespace default for the kind's scope. */
export function parseMetadata(raw: unknown, at: FieldPath, namespaced: boolean, sink: IssueSink): ObjectMeta | undefined {
  const m = validate(metadataSchema, raw, at, sink);
  if (!m) return undefined;
  if (!namespaced && m.namespace !== undefined && m.namespace !== '') {
    sink.warn([...at, 'namespace'], 'this kind is cluster-scoped; metadata.namespace is ignored', WarningCodes.UNKNOWN_FIELD);
  }
  const meta: ObjectMeta = {
    name: m.name,
    namespace: namespaced ? m.namespace || 'default' : '',
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
  };
  if (m.resourceVersion !== undefined) meta.resourceVersion = m.resourceVersion;
  if (m.uid !== undefined) meta.uid = m.uid;
  if (m.creationTimestamp !== undefined) meta.creationTimestamp = m.creationTimestamp;
  if (m.generation !== undefined) meta.generation = m.generation;
  return meta;
}
