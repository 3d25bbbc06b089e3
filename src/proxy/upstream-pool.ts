// Connections from this sidecar to other sidecars: mutual TLS with the
// current workload certificate, and a check that the peer presents exactly
// the identity the control plane said the endpoint has. HTTP requests reuse
// keep-alive connections; TLS sessions are resumed. On certificate rotation a
// new agent takes over; the old one's idle sockets close.

import https from 'node:https';
import tls from 'node:tls';
import type { EndpointConfig } from '../compiler/snapshot.js';
import { spiffeIdFromPeerCertificate } from '../identity/spiffe.js';
import type { Credentials, TlsMaterial } from './credentials.js';
import { TLS_OPTIONS } from './credentials.js';

/** Idle upstream connections close before the peer's keep-alive timeout (60 s) would. */
const IDLE_SOCKET_MS = 30_000;

export function verifyPeerIdentity(expected: string) {
  return (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    const got = spiffeIdFromPeerCertificate(cert);
    if (got === expected) return undefined;
    return Object.assign(new Error(`upstream presented identity ${got ?? '(none)'}, expected ${expected}`), {
      code: 'TRELLIS_E_PEER_IDENTITY',
    });
  };
}

export class UpstreamPool {
  private agent: https.Agent | undefined;
  private material: TlsMaterial | undefined;
  private readonly identityCheckers = new Map<string, ReturnType<typeof verifyPeerIdentity>>();

  constructor(credentials: Credentials) {
    credentials.onChange((m) => this.rotate(m));
    if (credentials.material) this.rotate(credentials.material);
  }

  private rotate(m: TlsMaterial): void {
    const old = this.agent;
    this.material = m;
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: Infinity,
      maxFreeSockets: 256,
      timeout: IDLE_SOCKET_MS,
      scheduling: 'lifo',
      maxCachedSessions: 1000,
    });
    // Requests in flight on the old agent finish; its idle connections go now.
    if (old) setTimeout(() => old.destroy(), IDLE_SOCKET_MS).unref();
    if (old) for (const list of Object.values(old.freeSockets)) for (const s of list ?? []) s.destroy();
  }

  private checker(identity: string) {
    let c = this.identityCheckers.get(identity);
    if (!c) {
      c = verifyPeerIdentity(identity);
      this.identityCheckers.set(identity, c);
    }
    return c;
  }

  /** Options for https.request to an endpoint; undefined until the proxy has a certificate. */
  requestOptions(ep: EndpointConfig): https.RequestOptions | undefined {
    if (!this.agent || !this.material) return undefined;
    return {
      agent: this.agent,
      host: ep.address,
      port: ep.port,
      secureContext: this.material.context,
      servername: '',
      checkServerIdentity: this.checker(ep.identity),
      ...TLS_OPTIONS,
    } as https.RequestOptions;
  }

  /** A raw mTLS connection to an endpoint, for TCP traffic. */
  connect(ep: EndpointConfig): tls.TLSSocket | undefined {
    if (!this.material) return undefined;
    return tls.connect({
      host: ep.address,
      port: ep.port,
      secureContext: this.material.context,
      checkServerIdentity: this.checker(ep.identity),
      allowHalfOpen: true,
      ...TLS_OPTIONS,
    } as tls.ConnectionOptions);
  }
}
