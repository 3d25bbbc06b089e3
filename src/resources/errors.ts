// Coded errors and warnings of the resources layer, and their one-line form.
// Codes are stable: tools and tests match on them, never on message text.

export const ErrorCodes = {
  /** The YAML text does not parse. */
  YAML_SYNTAX: 'TRELLIS_E_YAML_SYNTAX',
  /** A document is not a mapping (e.g. a bare list or scalar). */
  NOT_AN_OBJECT: 'TRELLIS_E_NOT_AN_OBJECT',
  /** A field has the wrong type or an invalid value. */
  INVALID_FIELD: 'TRELLIS_E_INVALID_FIELD',
  /** A required field is missing. */
  MISSING_FIELD: 'TRELLIS_E_MISSING_FIELD',
  /** A regular expression does not compile with RE2. */
  INVALID_REGEX: 'TRELLIS_E_INVALID_REGEX',
  /** The kind is neither a mesh kind nor a recognised foreign kind. */
  UNKNOWN_KIND: 'TRELLIS_E_UNKNOWN_KIND',
  /** The kind is known but not in this apiVersion. */
  UNKNOWN_API_VERSION: 'TRELLIS_E_UNKNOWN_API_VERSION',
  /** Two entries of a list share a name that must be unique. */
  DUPLICATE_NAME: 'TRELLIS_E_DUPLICATE_NAME',
  /** A namespaced reference names a different namespace than the object's own. */
  NAMESPACE_MISMATCH: 'TRELLIS_E_NAMESPACE_MISMATCH',
  /** A manifest path cannot be read. */
  READ_FAILED: 'TRELLIS_E_READ_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export const WarningCodes = {
  /** A field Trellis does not know; it is ignored. */
  UNKNOWN_FIELD: 'TRELLIS_W_UNKNOWN_FIELD',
  /** A kind Trellis recognises but does not store in local mode. */
  FOREIGN_KIND: 'TRELLIS_W_FOREIGN_KIND',
  /** An accepted but non-canonical form (legacy layout, missing API group, ...). */
  LEGACY_FORM: 'TRELLIS_W_LEGACY_FORM',
  /** Valid but probably not what the user meant (e.g. all split weights are 0). */
  SUSPICIOUS_VALUE: 'TRELLIS_W_SUSPICIOUS_VALUE',
} as const;
export type WarningCode = (typeof WarningCodes)[keyof typeof WarningCodes];

/** One problem in one document; `path` is a field path such as `spec.backends[1].weight` ('' = whole document). */
export interface ManifestError {
  code: ErrorCode;
  file: string;
  /** 0-based index of the document in the file. */
  document: number;
  /** 1-based line of the offending field when known, else of the document. */
  line: number;
  path: string;
  message: string;
}

export interface ManifestWarning {
  code: WarningCode;
  file: string;
  document: number;
  line: number;
  path: string;
  message: string;
}

/** `file:line: document N: path: message (CODE)`; N is the 0-based document index, as in the object. */
export function formatManifestError(e: ManifestError | ManifestWarning): string {
  const where = e.path ? `${e.path}: ` : '';
  return `${e.file}:${e.line}: document ${e.document}: ${where}${e.message} (${e.code})`;
}

/** Same as formatManifestError, prefixed with `warning: ` after the location. */
export function formatManifestWarning(w: ManifestWarning): string {
  const where = w.path ? `${w.path}: ` : '';
  return `${w.file}:${w.line}: document ${w.document}: warning: ${where}${w.message} (${w.code})`;
}

/** A thrown error of the resources layer (resolveKind, loadManifests). */
export class TrellisResourceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrellisResourceError';
    this.code = code;
  }
}
