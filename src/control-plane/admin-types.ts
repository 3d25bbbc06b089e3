// Wire types of the control plane's admin API (src/control-plane/admin-api.ts),
// shared by the server, its client (src/cli/admin-client.ts) and the CLI.
// Types only: importing this module loads nothing.

import type { ForeignDocument, Resource, ResourceRef, WorkloadInstanceResource } from '../resources/types.js';
import type { ApplyOutcome, StoreEvent } from '../store/types.js';

/** What the control plane knows about one connected (or once connected) proxy. */
export interface ProxyStatus {
  id: string;
  namespace: string;
  workload: string;
  /** SPIFFE ID of the proxy's certificate. */
  identity: string;
  connected: boolean;
  /** Remote address of its distribution connection. */
  address?: string;
  /** Snapshot version last sent. */
  version?: string;
  ackedVersion?: string;
  nackedVersion?: string;
  nackError?: string;
  /** RFC 3339. */
  lastSeen?: string;
  /** RFC 3339: expiry of the proxy's current certificate. */
  certNotAfter?: string;
}

/** A manifest error as the resources parser reports it (file, document, line, field path). */
export interface WireManifestError {
  code: string;
  file: string;
  document: number;
  line: number;
  path: string;
  message: string;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
  /** Present on 400s of apply/delete: every problem found, not only the first. */
  errors?: WireManifestError[];
}

export interface ManifestFile {
  /** Shown in errors; need not exist on the server's machine. */
  path: string;
  content: string;
}

export interface ApplyRequest {
  files?: ManifestFile[];
  objects?: unknown[];
  /** Validate and report what would change, change nothing. */
  dryRun?: boolean;
}

export interface ResultLine {
  kind: string;
  namespace: string;
  name: string;
  action: ApplyOutcome['action'];
}

export interface ApplyResponse {
  revision: number;
  results: ResultLine[];
  warnings: unknown[];
  foreign: ForeignDocument[];
  dryRun?: boolean;
}

export interface DeleteRequest {
  files?: ManifestFile[];
  refs?: ResourceRef[];
}

export interface DeleteResponse {
  revision: number;
  results: ResultLine[];
}

export interface ListResponse {
  revision: number;
  items: Resource[];
}

export interface StatusResponse {
  revision: number;
  mesh: unknown;
  proxies: ProxyStatus[];
  instances: WorkloadInstanceResource[];
}

export interface HeartbeatLine {
  type: 'heartbeat';
  revision: number;
}

/** One line of the /v1/watch stream. */
export type WatchLine = StoreEvent | HeartbeatLine;
