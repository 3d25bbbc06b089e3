// The proxy's link to the control plane. Gets a first certificate with the
// bootstrap token, then holds a mutually authenticated stream on which it
// receives snapshots (applies, then ACKs or NACKs) and renews its certificate
// before it expires. When the control plane is away the proxy keeps serving
// its last good snapshot and reconnects with jittered exponential backoff.

import tls from 'node:tls';
import type { Snapshot } from '../compiler/snapshot.js';
import {
  CONTROL_PLANE_SERVER_NAME,
  createLineDecoder,
  encodeMessage,
  type ControlPlaneMessage,
  type ProxyMessage,
} from '../control-plane/protocol.js';
import { applyDelta } from '../control-plane/delta.js';
import { Credentials, newKey, TLS_OPTIONS, type PendingKey } from './credentials.js';
import { isoTimestamp, type Logger } from './log.js';

export interface XdsClientOptions {
  host: string;
  port: number;
  proxyId: string;
  token: string;
  /** Roots that sign the control plane's certificate (the mesh CA). */
  rootsPem: string;
  credentials: Credentials;
  /** Applies a snapshot; a rejection NACKs it. */
  apply(snapshot: Snapshot): Promise<void>;
  log: Logger;
}

export interface XdsState {
  connected: boolean;
  appliedVersion?: string;
  rejectedVersion?: string;
  rejectedError?: string;
  reconnects: number;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

export class XdsClient {
  readonly state: XdsState = { connected: false, reconnects: 0 };
  private socket: tls.TLSSocket | undefined;
  private stopped = false;
  private backoff = BACKOFF_MIN_MS;
  private rotation: NodeJS.Timeout | undefined;
  private pendingKey: PendingKey | undefined;
  private rotateAt = 0.5;
  /** The snapshot applied last: deltas apply on it. */
  private current: Snapshot | undefined;
  /** Snapshots apply one at a time, in the order received. */
  private applying: Promise<void> = Promise.resolve();
  private lifetimeMs = 0;

  constructor(private readonly opts: XdsClientOptions) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.rotation);
    this.socket?.destroy();
  }

  private connect(): void {
    if (this.stopped) return;
    const material = this.opts.credentials.material;
    const usable = material && material.notAfter.getTime() > Date.now() + 1000;
    const socket = tls.connect({
      host: this.opts.host,
      port: this.opts.port,
      servername: CONTROL_PLANE_SERVER_NAME,
      ...TLS_OPTIONS,
      ...(usable ? { secureContext: material.context } : { ca: this.opts.rootsPem }),
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    const send = (m: ProxyMessage) => socket.write(encodeMessage(m));
    socket.on('secureConnect', () => {
      this.backoff = BACKOFF_MIN_MS;
      if (usable) {
        this.state.connected = true;
        send({ type: 'hello', proxyId: this.opts.proxyId, version: this.state.appliedVersion });
        if (this.pendingKey) send({ type: 'csr', publicKeyPem: this.pendingKey.publicKeyPem });
      } else {
        this.pendingKey ??= newKey();
        send({ type: 'hello', proxyId: this.opts.proxyId, token: this.opts.token, csr: this.pendingKey.publicKeyPem });
      }
    });
    socket.on(
      'data',
      createLineDecoder<ControlPlaneMessage>(
        (m) => this.onMessage(m, send, !usable),
        (err) => {
          this.opts.log.warn(`control plane stream: ${err.message}`);
          socket.destroy();
        },
      ),
    );
    socket.on('error', (err) => {
      if (this.state.reconnects === 0 || this.state.connected) this.opts.log.warn(`control plane connection: ${err.message}`);
    });
    socket.on('close', () => {
      this.state.connected = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.stopped) return;
      this.state.reconnects++;
      const delay = this.backoff * (0.5 + Math.random() / 2);
      this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
      // Right after the bootstrap connection delivered a certificate, reconnect with it at once.
      const fresh = !usable && this.opts.credentials.material !== material;
      setTimeout(() => this.connect(), fresh ? 0 : delay).unref();
    });
  }

  private onMessage(m: ControlPlaneMessage, send: (m: ProxyMessage) => void, bootstrap: boolean): void {
    switch (m.type) {
      case 'cert': {
        const key = this.pendingKey;
        if (!key) return;
        let material;
        try {
          material = this.opts.credentials.install(key, m.certPem, m.rootsPem);
        } catch (err) {
          // A certificate for another key (an answer to an older request): wait for the right one.
          this.opts.log.warn(`ignored a certificate that does not match the pending key: ${(err as Error).message}`);
          return;
        }
        this.pendingKey = undefined;
        this.lifetimeMs = m.lifetimeMs;
        this.rotateAt = m.rotateAt;
        this.scheduleRotation(material.notAfter);
        this.opts.log.info(`certificate installed, valid until ${isoTimestamp(material.notAfter.getTime())}`);
        // The bootstrap connection carries nothing else: reconnect with the certificate.
        if (bootstrap) this.socket?.end();
        return;
      }
      case 'snapshot':
      case 'delta': {
        const version = m.type === 'snapshot' ? m.snapshot.version : m.version;
        this.applying = this.applying.then(async () => {
          let snapshot: Snapshot;
          try {
            if (m.type === 'snapshot') snapshot = m.snapshot;
            else if (this.current) snapshot = applyDelta(this.current, m);
            else throw Object.assign(new Error('delta before any snapshot'), { code: 'TRELLIS_E_DELTA_BASE' });
          } catch {
            send({ type: 'resync' });
            return;
          }
          try {
            await this.opts.apply(snapshot);
            this.current = snapshot;
            this.state.appliedVersion = version;
            send({ type: 'ack', version });
          } catch (err) {
            const error = (err as Error).message;
            this.state.rejectedVersion = version;
            this.state.rejectedError = error;
            this.opts.log.warn(`rejected snapshot ${version}: ${error}`);
            send({ type: 'nack', version, error });
          }
        });
        return;
      }
      case 'error':
        this.opts.log.warn(`control plane: ${m.message} (${m.code})`);
        return;
    }
  }

  private scheduleRotation(notAfter: Date): void {
    clearTimeout(this.rotation);
    const lifetime = this.lifetimeMs || notAfter.getTime() - Date.now();
    const at = notAfter.getTime() - lifetime * (1 - this.rotateAt);
    this.rotation = setTimeout(() => this.rotate(), Math.max(0, at - Date.now()));
    this.rotation.unref();
  }

  private rotate(): void {
    // One key per rotation: retries ask again for the same key, so any answer fits it.
    this.pendingKey ??= newKey();
    if (this.socket && this.state.connected) {
      this.socket.write(encodeMessage({ type: 'csr', publicKeyPem: this.pendingKey.publicKeyPem }));
    }
    // Not connected: the csr goes out on the next connection. Retry if no answer comes.
    this.rotation = setTimeout(() => this.rotate(), 1000);
    this.rotation.unref();
  }
}
