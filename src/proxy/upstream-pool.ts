// Connections from this sidecar to other sidecars: mutual TLS with the
// current workload certificate, and a check that the peer presents exactly
// the identity the control plane said the endpoint has. HTTP goes as streams
// of one multiplexed session per peer (mux/), kept alive by the engine's pool
// (h1/pool.ts); TCP gets a TLS connection of its own. A rotated certificate
// retires the sessions and idle connections made with the old one.

import tls from 'node:tls';
import type { EndpointConfig } from '../compiler/snapshot.js';
import { spiffeIdFromPeerCertificate } from '../identity/spiffe.js';
import type { Credentials, TlsMaterial } from './credentials.js';
import { TLS_OPTIONS } from './credentials.js';
import { LIMITS } from './limits.js';
import type { ByteStream } from './h1/byte-stream.js';
import { MuxConnector } from './mux/connector.js';

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

  /** HTTP to other sidecars: streams of one multiplexed session per peer (mux/). */
  private readonly mux = new MuxConnector((ep, timeoutMs, alpn) => this.connect(ep, timeoutMs, alpn));

  constructor(credentials: Credentials) {
    credentials.onChange((m) => {
      this.material = m;
      this.mux.retireAll();
    });
    this.material = credentials.material;
  }

  /** A connection for HTTP/1.1 exchanges with an endpoint's sidecar (a stream of a shared session). */
  connectHttp(ep: EndpointConfig, timeoutMs = LIMITS.connectTimeoutMs): ByteStream | undefined {
    return this.mux.connect(ep, timeoutMs);
  }

  /** Multiplexed sessions open now. */
  get sessions(): number {
    return this.mux.size;
  }

  /** Sessions to other sidecars, for config_dump. */
  describeSessions(): ReturnType<MuxConnector['describe']> {
    return this.mux.describe();
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
  connect(ep: EndpointConfig, timeoutMs = LIMITS.connectTimeoutMs, alpn?: string[]): tls.TLSSocket | undefined {
    if (!this.material) return undefined;
    const socket = tls.connect({
      host: ep.address,
      port: ep.port,
      secureContext: this.material.context,
      checkServerIdentity: this.checker(ep.identity),
      allowHalfOpen: true,
      noDelay: true,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
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
