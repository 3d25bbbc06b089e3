// The mesh identity layer: CA, certificate issuance, SPIFFE IDs, bootstrap tokens.
export { IdentityError, type IdentityErrorCode } from './errors.js';
export { generateKeyPair, type KeyPairPem } from './keys.js';
export { createCA, loadOrCreateCA, type MeshCA } from './ca.js';
export { issueCertificate, type IssueRequest, type IssuedCertificate } from './issue.js';
export { certificateNotAfter } from './pem.js';
export { spiffeId, parseSpiffeId, spiffeIdFromPeerCertificate, type SpiffeIdParts } from './spiffe.js';
export { createBootstrapToken, verifyBootstrapToken, loadOrCreateSecret, type BootstrapClaims } from './bootstrap.js';
