// Coded errors of the mesh identity layer (CA, certificates, SPIFFE IDs, bootstrap tokens).

export type IdentityErrorCode =
  | 'TRELLIS_E_SPIFFE_ID_INVALID'
  | 'TRELLIS_E_TRUST_DOMAIN_MISMATCH'
  | 'TRELLIS_E_DNS_NAME_INVALID'
  | 'TRELLIS_E_KEY_UNSUPPORTED'
  | 'TRELLIS_E_CERT_LIFETIME_INVALID'
  | 'TRELLIS_E_CA_INCOMPLETE'
  | 'TRELLIS_E_CA_INVALID'
  | 'TRELLIS_E_CA_CHAIN_INVALID'
  | 'TRELLIS_E_SECRET_INVALID';

export class IdentityError extends Error {
  constructor(readonly code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityError';
  }
}
