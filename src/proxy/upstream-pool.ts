// Connections from this sidecar to other sidecars: mutual TLS with the
// current workload certificate, and a check that the peer presents exactly
// the identity the control plane said the endpoint has. HTTP reuses them
// through the engine's keep-alive pool (h1/pool.ts), which drops idle ones
// when the certificate rotates.

import tls from 'node:tls';
import type { EndpointConfig } from '../compiler/snapshot.js';
import { spiffeIdFromPeerCertificate } from '../identity/spiffe.js';
import type { Credentials, TlsMaterial } from './credentials.js';
import { TLS_OPTIONS } from './credentials.js';
import { LIMITS } from './limits.js';

export function verifyPeerIdentity(expected: string) {
  return (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    const got = spiffeIdFromPeerCertificate(cert);
    if (got === expected) return undefined;
    return Object.assign(new Error(`upstream presented identity ${got ?? '(none)'}, expected ${expected}`), {
      code: 'TRELLIS_E_PEER_IDENTITY',
    });
  };
}

/** Opens mTLS connections to other sidecars with the current workload certificate. */
export class UpstreamPool {
  private material: TlsMaterial | undefined;
  private readonly identityCheckers = new Map<string, ReturnType<typeof verifyPeerIdentity>>();

  constructor(credentials: Credentials) {
    credentials.onChange((m) => (this.material = m));
    this.material = credentials.material;
  }

  private checker(identity: string) {
    let c = this.identityCheckers.get(identity);
    if (!c) {
      c = verifyPeerIdentity(identity);
      this.identityCheckers.set(identity, c);
    }
    return c;
  }

  /**
   * A new mTLS connection to an endpoint; the peer must present the endpoint's
   * identity. Connecting (TCP and TLS handshake) must finish within `timeoutMs`.
   */
  connect(ep: EndpointConfig, timeoutMs = LIMITS.connectTimeoutMs): tls.TLSSocket | undefined {
    if (!this.material) return undefined;
    const socket = tls.connect({
      host: ep.address,
      port: ep.port,
      secureContext: this.material.context,
      checkServerIdentity: this.checker(ep.identity),
      allowHalfOpen: true,
      noDelay: true,
      ...TLS_OPTIONS,
    } as tls.ConnectionOptions);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    timer.unref();
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
    });
    socket.once('close', () => clearTimeout(timer));
    return socket;
  }
}
