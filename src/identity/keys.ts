// Key pairs (node:crypto) and their conversion into WebCrypto keys for signing.
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
import { IdentityError } from './errors.js';
import { P256 } from './x509.js';

export { generateKeyPair, type KeyPairPem } from './key-pair.js';

/** A private key ready to sign certificates, with the matching signature algorithm. */
export interface SigningKey {
  key: CryptoKey;
  algorithm: EcdsaParams | Algorithm;
  /** The public half, SPKI DER (to check that a certificate belongs to this key). */
  publicKeyDer: Buffer;
}

interface EcdsaParams extends Algorithm {
  hash: string;
}

type ImportAlgorithm = { name: string; namedCurve?: string; hash?: string };

function signatureAlgorithmOf(key: KeyObject, what: string): { importAlg: ImportAlgorithm; signAlg: EcdsaParams | Algorithm } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { importAlg: { name: 'ECDSA', namedCurve: 'P-256' }, signAlg: { ...P256 } };
    if (curve === 'secp384r1') return { importAlg: { name: 'ECDSA', namedCurve: 'P-384' }, signAlg: { name: 'ECDSA', hash: 'SHA-384' } };
    throw new IdentityError('TRELLIS_E_KEY_UNSUPPORTED', `${what}: EC curve ${curve ?? 'unknown'} is not supported; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlg: alg, signAlg: alg };
  }
  throw new IdentityError('TRELLIS_E_KEY_UNSUPPORTED', `${what}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported; use ECDSA P-256`);
}

/**
 * Imports a CA private key (PKCS#8 or SEC1/PKCS#1 PEM). Generated CAs are
 * P-256; a user-provided CA may also use P-384 or RSA.
 */
export async function importSigningKey(pem: string, what = 'CA key'): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new IdentityError('TRELLIS_E_CA_INVALID', `${what} is not a readable PEM private key`, { cause: err });
  }
  const { importAlg, signAlg } = signatureAlgorithmOf(keyObject, what);
  const der = keyObject.export({ format: 'der', type: 'pkcs8' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  const publicKeyDer = createPublicKey(keyObject).export({ format: 'der', type: 'spki' });
  return { key: key as CryptoKey, algorithm: signAlg, publicKeyDer };
}

/** Imports a subject's public key; leaf certificates carry P-256 keys only. */
export async function importLeafPublicKey(pem: string): Promise<CryptoKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey(pem);
  } catch (err) {
    throw new IdentityError('TRELLIS_E_KEY_UNSUPPORTED', 'public key is not a readable PEM (SPKI) key', { cause: err });
  }
  if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new IdentityError('TRELLIS_E_KEY_UNSUPPORTED', 'leaf public key must be ECDSA P-256');
  }
  const der = keyObject.export({ format: 'der', type: 'spki' });
  return (await webcrypto.subtle.importKey('spki', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])) as CryptoKey;
}
