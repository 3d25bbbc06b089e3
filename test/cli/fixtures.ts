// Shared fixtures of the admin API and CLI tests: manifests, a WorkloadInstance
// object and an admin server on 127.0.0.1:0.

import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminServer, type AdminServerDeps } from '../../src/control-plane/admin-api.js';
import type { ProxyStatus } from '../../src/control-plane/admin-types.js';

export const SPLIT_YAML = `apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: bookstore-split
  namespace: bookstore
spec:
  service: bookstore.bookstore
  backends:
  - service: bookstore
    weight: 50
  - service: bookstore-v2
    weight: 50
`;

export const SERVICE_YAML = `apiVersion: v1
kind: Service
metadata:
  name: bookstore
  namespace: bookstore
  labels:
    app: bookstore
spec:
  selector:
    app: bookstore
  ports:
  - name: http
    port: 14001
`;

/** Line 24 (`weight: fifty`, document 1) is wrong. */
export const BROKEN_YAML = `${SERVICE_YAML}---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: broken-split
  namespace: bookstore
spec:
  service: bookstore
  backends:
  - service: bookstore
    weight: fifty
`;

export function workloadInstanceObject(outboundPort = 15123): Record<string, unknown> {
  return {
    apiVersion: 'trellis.dev/v1alpha1',
    kind: 'WorkloadInstance',
    metadata: { name: 'bookbuyer-0', namespace: 'bookbuyer' },
    spec: {
      workload: 'bookbuyer',
      index: 0,
      serviceAccountName: 'bookbuyer',
      labels: { app: 'bookbuyer' },
      address: '127.0.0.1',
      ports: [{ name: 'http', port: 18080, inboundPort: 18443 }],
      outboundPort,
      adminPort: 15000,
      upstreams: [{ service: 'bookstore', namespace: 'bookstore', port: 14001, localPort: 19001 }],
      ready: true,
    },
  };
}

export function workloadObject(): Record<string, unknown> {
  return {
    apiVersion: 'trellis.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: 'bookbuyer', namespace: 'bookbuyer' },
    spec: { command: ['node', 'bookbuyer.js'], env: { BOOKS_WANTED: '3' }, serviceAccountName: 'bookbuyer' },
  };
}

export const PROXIES: ProxyStatus[] = [
  {
    id: 'bookbuyer/bookbuyer-0',
    namespace: 'bookbuyer',
    workload: 'bookbuyer',
    identity: 'spiffe://trellis.local/ns/bookbuyer/sa/bookbuyer',
    connected: true,
    version: 'v3',
    ackedVersion: 'v3',
    certNotAfter: new Date(Date.now() + 3600_000).toISOString(),
  },
];

export interface RunningAdmin {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

export async function startAdmin(deps: AdminServerDeps): Promise<RunningAdmin> {
  const server = createAdminServer(deps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
