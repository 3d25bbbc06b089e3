// Public surface of the resources layer.
export * from './types.js';
export * from './errors.js';
export { KINDS, kindDescriptor, knownKindNames, resolveKind, apiVersionOf, splitApiVersion, preferredApiVersion, type KindDescriptor } from './kinds.js';
export { parseManifests, mergeParseResults, emptyParseResult, type ParseResult } from './parse-manifests.js';
export { loadManifests, listManifestFiles } from './load.js';
export { parseObject, parseDocumentValue, type ObjectParseResult } from './parse-object.js';
export { parseDuration, formatDuration, parseGatewayDuration } from './duration.js';
export { quantityToMilli } from './quantity.js';
export { defaultMeshConfigSpec, MIN_CERT_LIFETIME_MS } from './mesh-config.js';
export { appProtocolOf } from './core.js';
export { formatPath, type FieldPath } from './validate.js';
export { TRELLIS_GATEWAY_CONTROLLER } from './gateway-class.js';
export {
  CERT_FILE_OPTION,
  KEY_FILE_OPTION,
  SERVICE_ACCOUNT_ANNOTATION,
  defaultRouteKinds,
  isManifestFilePath,
  withAbsoluteTlsFiles,
} from './gateway.js';
export { SECRET_TYPE_TLS } from './secret.js';
