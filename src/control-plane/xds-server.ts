// Snapshot distribution: the control plane's end of src/control-plane/protocol.ts.
// Issues certificates (bootstrap token first, then renewals over mTLS), sends
// each connected proxy its latest snapshot when its version changes, and
// records ACK/NACK state for `trellis status`.

import tls from 'node:tls';
import type { Snapshot } from '../compiler/snapshot.js';
import type { MeshCA } from '../identity/ca.js';
import { verifyBootstrapToken } from '../identity/bootstrap.js';
import { issueCertificate } from '../identity/issue.js';
import { spiffeId, spiffeIdFromPeerCertificate } from '../identity/spiffe.js';
import type { ProxyStatus } from './admin-types.js';
import { encodeDelta, encodeFullSnapshot, sentStateOf, type SentState } from './delta.js';
import {
  createLineDecoder,
  encodeMessage,
  type ControlPlaneMessage,
  type ProxyMessage,
} from './protocol.js';

export interface CertificatePolicy {
  trustDomain: string;
  lifetimeMs: number;
  rotateAt: number;
}

export interface XdsServerDeps {
  ca: MeshCA;
  /** The control plane's own serving certificate and key. */
  serving: { certPem: string; keyPem: string };
  secret: Buffer;
  certificatePolicy: () => CertificatePolicy;
  /** Latest compiled snapshot for a proxy, if any. */
  snapshotFor: (proxyId: string) => Snapshot | undefined;
  /** Service account the proxy id must have (from its WorkloadInstance); undefined = unknown proxy. */
  identityOf: (proxyId: string) => { namespace: string; serviceAccount: string } | undefined;
  log: (msg: string) => void;
}

interface Session {
  status: ProxyStatus;
  socket?: tls.TLSSocket;
  send?: (m: ControlPlaneMessage) => void;
  /** Raw protocol line writer (pre-encoded snapshots and deltas). */
  write?: (line: string) => void;
  /** What the proxy was last sent; undefined = next push is a full snapshot. */
  sent?: SentState;
  awaitingFull?: boolean;
}

const MAX_FULL_IN_FLIGHT = 8;
const CHUNK_CHARS = 32 * 1024;

/**
 * Writes a large message piece by piece as the socket drains, so the native
 * buffers behind TLS stay small and are reused (one multi-megabyte write per
 * proxy leaves the allocator holding gigabytes it never returns).
 */
function writeInChunks(socket: tls.TLSSocket, text: string, done: () => void): void {
  let offset = 0;
  const next = () => {
    while (offset < text.length) {
      let end = Math.min(text.length, offset + CHUNK_CHARS);
      // Never split a surrogate pair.
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      const part = text.slice(offset, end);
      offset = end;
      if (socket.destroyed) return;
      if (!socket.write(part)) {
        socket.once('drain', next);
        return;
      }
    }
    done();
  };
  next();
}

const HELLO_TIMEOUT_MS = 10_000;

export class XdsServer {
  readonly server: tls.Server;
  private readonly sessions = new Map<string, Session>();
  private readonly fullQueue: Session[] = [];
  private fullInFlight = 0;

  constructor(private readonly deps: XdsServerDeps) {
    this.server = tls.createServer(
      {
        key: deps.serving.keyPem,
        cert: deps.serving.certPem,
        ca: deps.ca.rootsPem,
        requestCert: true,
        // Bootstrap connections have no certificate yet; they may only ask for one.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      },
      (socket) => this.onConnection(socket),
    );
    this.server.maxConnections = 20_000;
    this.server.on('tlsClientError', () => {});
  }

  statuses(): ProxyStatus[] {
    return [...this.sessions.values()].map((s) => ({ ...s.status })).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Sends every connected proxy whose snapshot changed what changed in it. */
  push(): void {
    for (const [id, s] of this.sessions) {
      const snap = this.deps.snapshotFor(id);
      if (snap && snap.version !== s.status.version) this.sendSnapshot(s, snap);
    }
  }

  private sendSnapshot(s: Session, snap: Snapshot): void {
    if (!s.write) return;
    if (s.sent) {
      if (s.sent.version === snap.version) return;
      s.status.version = snap.version;
      s.write(encodeDelta(snap, s.sent));
      return;
    }
    // Full snapshots of a large mesh are megabytes: a few at a time, so that
    // hundreds of proxies connecting at once do not pile them up in memory.
    if (s.awaitingFull) return; // when its turn comes it takes the latest snapshot
    s.awaitingFull = true;
    this.fullQueue.push(s);
    this.pumpFullSnapshots();
  }

  private pumpFullSnapshots(): void {
    while (this.fullInFlight < MAX_FULL_IN_FLIGHT && this.fullQueue.length > 0) {
      const s = this.fullQueue.shift()!;
      s.awaitingFull = false;
      const socket = s.socket;
      const snap = this.deps.snapshotFor(s.status.id);
      if (!socket || socket.destroyed || !snap) continue;
      s.status.version = snap.version;
      s.sent = sentStateOf(snap);
      this.fullInFlight++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.fullInFlight--;
        this.pumpFullSnapshots();
      };
      socket.once('close', release);
      writeInChunks(socket, encodeFullSnapshot(snap), release);
    }
  }

  close(): void {
    this.server.close();
    for (const s of this.sessions.values()) s.socket?.destroy();
  }

  private onConnection(socket: tls.TLSSocket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    const send = (m: ControlPlaneMessage) => {
      if (!socket.destroyed) socket.write(encodeMessage(m));
    };
    const fail = (code: string, message: string) => {
      send({ type: 'error', code, message });
      socket.end();
    };
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    let session: Session | undefined;
    const peer = socket.authorized ? spiffeIdFromPeerCertificate(socket.getPeerCertificate()) : undefined;

    const onMessage = (m: ProxyMessage) => {
      if (!session) {
        if (m.type !== 'hello') return fail('TRELLIS_E_PROTOCOL', 'the first message must be hello');
        clearTimeout(helloTimer);
        if (!peer) return void this.bootstrap(m, send, fail);
        const expected = this.deps.identityOf(m.proxyId);
        if (!expected) return fail('TRELLIS_E_UNKNOWN_PROXY', `no WorkloadInstance ${m.proxyId} exists`);
        const policy = this.deps.certificatePolicy();
        const want = spiffeId(policy.trustDomain, expected.namespace, expected.serviceAccount);
        if (peer !== want) return fail('TRELLIS_E_IDENTITY_MISMATCH', `proxy ${m.proxyId} must present ${want}, not ${peer}`);
        session = this.attach(m.proxyId, peer, socket, send, m.version);
        return;
      }
      switch (m.type) {
        case 'csr':
          void this.issue(session.status.identity, m.publicKeyPem)
            .then((msg) => {
              session!.status.certNotAfter = msg.notAfter;
              send(msg);
            })
            .catch((err: Error) => send({ type: 'error', code: 'TRELLIS_E_CSR', message: err.message }));
          return;
        case 'resync': {
          session.sent = undefined;
          const snap = this.deps.snapshotFor(session.status.id);
          if (snap) this.sendSnapshot(session, snap);
          return;
        }
        case 'ack':
          session.status.ackedVersion = m.version;
          session.status.lastSeen = new Date().toISOString();
          if (session.status.nackedVersion === m.version) delete session.status.nackedVersion;
          return;
        case 'nack':
          session.status.nackedVersion = m.version;
          session.status.nackError = m.error;
          session.status.lastSeen = new Date().toISOString();
          this.deps.log(`proxy ${session.status.id} rejected snapshot ${m.version}: ${m.error}`);
          return;
        default:
          return;
      }
    };
    socket.on('data', createLineDecoder<ProxyMessage>(onMessage, () => socket.destroy()));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (session && this.sessions.get(session.status.id) === session) {
        session.status.connected = false;
        session.socket = undefined;
        session.send = undefined;
        session.write = undefined;
        session.sent = undefined;
      }
    });
  }

  private attach(
    proxyId: string,
    identity: string,
    socket: tls.TLSSocket,
    send: (m: ControlPlaneMessage) => void,
    appliedVersion: string | undefined,
  ): Session {
    const previous = this.sessions.get(proxyId);
    if (previous?.socket && previous.socket !== socket) previous.socket.destroy();
    const [namespace] = proxyId.split('/');
    const snap = this.deps.snapshotFor(proxyId);
    const cert = socket.getPeerCertificate();
    const session: Session = {
      socket,
      send,
      write: (line) => {
        if (!socket.destroyed) socket.write(line);
      },
      status: {
        id: proxyId,
        namespace: namespace ?? '',
        workload: snap?.node.workload ?? previous?.status.workload ?? '',
        identity,
        connected: true,
        address: `${socket.remoteAddress}:${socket.remotePort}`,
        lastSeen: new Date().toISOString(),
        certNotAfter: cert.valid_to ? new Date(cert.valid_to).toISOString() : undefined,
        // A proxy that reconnects already runs what it applied: resend only if it differs.
        version: appliedVersion,
        ackedVersion: appliedVersion,
      },
    };
    this.sessions.set(proxyId, session);
    // A reconnecting proxy keeps what it applied; anything newer comes as a full snapshot.
    if (snap && snap.version !== appliedVersion) this.sendSnapshot(session, snap);
    else if (snap) session.sent = sentStateOf(snap);
    return session;
  }

  private bootstrap(
    m: Extract<ProxyMessage, { type: 'hello' }>,
    send: (m: ControlPlaneMessage) => void,
    fail: (code: string, message: string) => void,
  ): void {
    const claims = m.token ? verifyBootstrapToken(this.deps.secret, m.token) : undefined;
    if (!claims || claims.proxyId !== m.proxyId) {
      return fail('TRELLIS_E_UNAUTHENTICATED', 'present a mesh certificate or a valid bootstrap token');
    }
    if (!m.csr) return fail('TRELLIS_E_PROTOCOL', 'a bootstrap hello must carry a public key (csr)');
    const policy = this.deps.certificatePolicy();
    void this.issue(spiffeId(policy.trustDomain, claims.namespace, claims.serviceAccount), m.csr)
      .then(send)
      .catch((err: Error) => fail('TRELLIS_E_CSR', err.message));
  }

  private async issue(identity: string, publicKeyPem: string): Promise<Extract<ControlPlaneMessage, { type: 'cert' }>> {
    const policy = this.deps.certificatePolicy();
    const cert = await issueCertificate(this.deps.ca, { spiffeId: identity, publicKeyPem, lifetimeMs: policy.lifetimeMs });
    return {
      type: 'cert',
      certPem: cert.certPem,
      rootsPem: this.deps.ca.rootsPem,
      notAfter: cert.notAfter.toISOString(),
      lifetimeMs: policy.lifetimeMs,
      rotateAt: policy.rotateAt,
    };
  }
}
