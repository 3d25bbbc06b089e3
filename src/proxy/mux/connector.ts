// Client side of the sidecar-to-sidecar sessions: one multiplexed mTLS
// session per peer endpoint, opened on first use, offered by ALPN. A peer
// that does not choose the protocol (an older sidecar) gets plain HTTP/1.1
// over its own TLS connections from then on.

import type tls from 'node:tls';
import type { EndpointConfig } from '../../compiler/snapshot.js';
import type { ByteStream } from '../h1/byte-stream.js';
import { NOTHING_SENT } from '../h1/byte-stream.js';
import { MUX_ALPN } from './frame.js';
import { MuxSession } from './session.js';

export interface SessionInfo {
  /** address:port of the peer sidecar's inbound listener. */
  endpoint: string;
  /** The SPIFFE ID the peer must present. */
  identity: string;
  /** Streams open (in use, or idle in the keep-alive pool). */
  streams: number;
  /** False while the TLS handshake runs. */
  connected: boolean;
}

export const MUX_LIMITS = {
  /** Per-stream flow-control window (bytes, each direction). */
  window: 256 * 1024,
  /** Streams per session; a client opens another session past it, a server refuses them. */
  maxStreams: 1024,
  /** A client session with no stream closes after this long. */
  clientIdleTimeoutMs: 30_000,
  /** A server session with no stream closes after this long (clients normally close first). */
  serverIdleTimeoutMs: 300_000,
};

/** Opens the TLS connection of a session (ALPN offered) or a plain HTTP/1.1 one (no ALPN). */
export type Dial = (ep: EndpointConfig, timeoutMs: number, alpn: string[] | undefined) => tls.TLSSocket | undefined;


export class MuxConnector {
  private readonly sessions = new Map<string, MuxSession>();
  /** Peers that answered the offer with plain HTTP/1.1. */
  private readonly h1Only = new Set<string>();

  constructor(private readonly dial: Dial) {}

  /** A stream to the endpoint's sidecar, or undefined without credentials. */
  connect(ep: EndpointConfig, timeoutMs: number): ByteStream | undefined {
    const key = `${ep.address}:${ep.port}|${ep.identity}`;
    if (this.h1Only.has(key)) return this.dial(ep, timeoutMs, undefined);
    let session = this.sessions.get(key);
    if (!session || !session.available) {
      const started = this.start(key, ep, timeoutMs);
      if (!started) return undefined;
      session = started;
    }
    return session.open();
  }

  /** New streams go to new sessions (a rotated certificate); old ones close when their streams end. */
  retireAll(): void {
    for (const s of this.sessions.values()) s.retire();
    this.sessions.clear();
  }

  /** Sessions open now (config_dump, tests). */
  get size(): number {
    return this.sessions.size;
  }

  /** What config_dump shows: each session's peer, its streams, and the peers that only speak HTTP/1.1. */
  describe(): { sessions: SessionInfo[]; http1Peers: string[] } {
    return {
      sessions: [...this.sessions].map(([key, s]) => {
        const [endpoint, identity] = key.split('|') as [string, string];
        return { endpoint, identity, streams: s.streams.size, connected: s.isConnected };
      }),
      http1Peers: [...this.h1Only].map((k) => k.split('|')[0]!),
    };
  }

  private start(key: string, ep: EndpointConfig, timeoutMs: number): MuxSession | undefined {
    const socket = this.dial(ep, timeoutMs, [MUX_ALPN, 'http/1.1']);
    if (!socket) return undefined;
    const session = new MuxSession(socket, 'client', {
      window: MUX_LIMITS.window,
      maxStreams: MUX_LIMITS.maxStreams,
      idleTimeoutMs: MUX_LIMITS.clientIdleTimeoutMs,
    });
    this.sessions.set(key, session);
    session.onClose(() => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol === MUX_ALPN) return session.connected();
      // An older peer: its streams fail before any byte left, so the engine may send them again.
      this.h1Only.add(key);
      session.close(Object.assign(new Error(`${ep.address}:${ep.port} does not speak ${MUX_ALPN}`), { code: NOTHING_SENT }));
    });
    return session;
  }
}
