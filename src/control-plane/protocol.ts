// The distribution protocol between the control plane and proxies: newline-
// delimited JSON over TLS. A proxy without a certificate may only ask for one
// (with the bootstrap token the runner gave it); snapshots flow only over
// mutually authenticated connections. The proxy applies a snapshot, then
// ACKs or NACKs its version (Envoy's xDS discipline).

import type { Snapshot } from '../compiler/snapshot.js';
import type { SnapshotDelta } from './delta.js';

export type ProxyMessage =
  /** First message on a connection. `token` on the bootstrap connection, `version` = last applied. */
  | { type: 'hello'; proxyId: string; token?: string; version?: string; csr?: string }
  /** Ask for a (new) certificate for this SPKI public key, on an authenticated connection. */
  | { type: 'csr'; publicKeyPem: string }
  /** The proxy lost track (a delta did not apply): send the full snapshot. */
  | { type: 'resync' }
  | { type: 'ack'; version: string }
  | { type: 'nack'; version: string; error: string };

export type ControlPlaneMessage =
  | { type: 'cert'; certPem: string; rootsPem: string; notAfter: string; lifetimeMs: number; rotateAt: number }
  | { type: 'snapshot'; snapshot: Snapshot }
  | SnapshotDelta
  | { type: 'error'; code: string; message: string };

/** Largest message either side accepts (a snapshot for a big mesh is large, but bounded). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Server name proxies expect in the control plane's certificate. */
export const CONTROL_PLANE_SERVER_NAME = 'trellis-control-plane';

/**
 * Splits a byte stream into JSON messages. Calls `onMessage` for each;
 * `onError` once if a line is not JSON or exceeds the limit.
 */
export function createLineDecoder<T>(onMessage: (m: T) => void, onError: (err: Error) => void) {
  let buffered = '';
  let failed = false;
  return (chunk: Buffer | string) => {
    if (failed) return;
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.length === 0) continue;
      let msg: T;
      try {
        msg = JSON.parse(line) as T;
      } catch {
        failed = true;
        onError(new Error('malformed message from peer'));
        return;
      }
      onMessage(msg);
    }
    if (buffered.length > MAX_MESSAGE_BYTES) {
      failed = true;
      onError(new Error(`message larger than ${MAX_MESSAGE_BYTES} bytes`));
    }
  };
}

export function encodeMessage(m: ProxyMessage | ControlPlaneMessage): string {
  return JSON.stringify(m) + '\n';
}
