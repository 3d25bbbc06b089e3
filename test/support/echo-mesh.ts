// The small mesh several end-to-end tests run: in namespace demo, the echo
// example app (workload and ServiceAccount echo, replicas labelled app: echo)
// behind Service echo on port 8080, a workload `client` that calls it, and by
// default the HTTPRouteGroup and TrafficTarget that let the client in. Tests
// say only what differs: a MeshConfig, replicas, the client's app and
// upstreams, an unauthorised `stranger`, and documents of their own.

import path from 'node:path';
import { examplesDir } from './paths.js';

/** The echo example app: answers every request with what it saw, as JSON. */
export const ECHO_APP = path.join(examplesDir, 'echo', 'echo.mjs');

/** A command that does nothing, for a workload that only needs its sidecar. */
const IDLE = ['node', '-e', 'setInterval(() => {}, 1 << 30)'];

export interface Upstream {
  service: string;
  port: number;
}

export interface EchoMeshOptions {
  /** The MeshConfig's spec, in manifest form (e.g. `{ certificates: { lifetime: '4s' } }`); no MeshConfig when not given. */
  meshConfig?: Record<string, unknown>;
  /** How many echo replicas; the manifest says nothing (one) when not given. */
  echoReplicas?: number;
  /** The client's ServiceAccount; `client` when not given. */
  clientServiceAccount?: string;
  /** A script the client runs instead of idling; it gets a port `http` and the label app: client. */
  clientApp?: string;
  /** The client's explicit upstreams, in this order. */
  clientUpstreams?: Upstream[];
  /** When given, a workload `stranger` (ServiceAccount stranger) with these upstreams, which no TrafficTarget allows. */
  strangerUpstreams?: Upstream[];
  /** Whether the mesh includes clientToEcho(); true when not given. */
  allowClient?: boolean;
  /** More YAML documents, appended as they are. */
  extra?: string;
}

const flowList = (upstreams: Upstream[]) => `[${upstreams.map((u) => `{ service: ${u.service}, port: ${u.port} }`).join(', ')}]`;

function workload(
  name: string,
  spec: { serviceAccountName: string; command: string[]; label?: boolean; replicas?: number; port?: string; upstreams?: Upstream[] },
): string {
  return [
    'apiVersion: trellis.dev/v1alpha1',
    'kind: Workload',
    `metadata: { name: ${name}, namespace: demo${spec.label ? `, labels: { app: ${name} }` : ''} }`,
    'spec:',
    `  serviceAccountName: ${spec.serviceAccountName}`,
    ...(spec.replicas !== undefined ? [`  replicas: ${spec.replicas}`] : []),
    `  command: ${JSON.stringify(spec.command)}`,
    ...(spec.port ? [`  ports: [{ name: ${spec.port} }]`] : []),
    ...(spec.upstreams ? [`  upstreams: ${flowList(spec.upstreams)}`] : []),
  ].join('\n');
}

/** The HTTPRouteGroup `everything` and the TrafficTarget `client-to-echo` that lets `serviceAccount` call echo. */
export function clientToEcho(serviceAccount = 'client'): string {
  return `
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: demo }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: client-to-echo, namespace: demo }
spec:
  destination: { kind: ServiceAccount, name: echo, namespace: demo }
  rules: [{ kind: HTTPRouteGroup, name: everything }]
  sources: [{ kind: ServiceAccount, name: ${serviceAccount}, namespace: demo }]
`;
}

/** The echo mesh's manifests, one YAML stream. */
export function echoMesh(opts: EchoMeshOptions = {}): string {
  const clientServiceAccount = opts.clientServiceAccount ?? 'client';
  const docs = [
    // JSON is YAML: the spec goes in as one flow mapping.
    ...(opts.meshConfig ? [`apiVersion: trellis.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec: ${JSON.stringify(opts.meshConfig)}`] : []),
    'apiVersion: v1\nkind: Namespace\nmetadata: { name: demo }',
    `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 8080, targetPort: web }]`,
    workload('echo', { serviceAccountName: 'echo', label: true, replicas: opts.echoReplicas, command: ['node', ECHO_APP], port: 'web' }),
    workload('client', {
      serviceAccountName: clientServiceAccount,
      ...(opts.clientApp ? { command: ['node', opts.clientApp], label: true, port: 'http' } : { command: IDLE }),
      upstreams: opts.clientUpstreams,
    }),
    ...(opts.strangerUpstreams ? [workload('stranger', { serviceAccountName: 'stranger', command: IDLE, upstreams: opts.strangerUpstreams })] : []),
    ...((opts.allowClient ?? true) ? [clientToEcho(clientServiceAccount).trim()] : []),
    ...(opts.extra ? [opts.extra.trim()] : []),
  ];
  return `${docs.join('\n---\n')}\n`;
}
