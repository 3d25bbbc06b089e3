// Gateway API HTTPRoutes with a Service parent (GAMMA), end to end: the mesh
// cases of ../shared/conformance/gateway-api.md against a real `trellis up`
// with echo backends, judged the way the conformance suite judges them.
// Each case applies its route through the admin API and deletes it after.
// The cases the ingress gateway shares (matching, filters, weights, ...) are
// in test/support/routing-conformance.ts; the mesh-only ones are here.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { expectEventually, parseEcho, type Expectation } from '../support/conformance.js';
import { startMesh, viaProxy, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';
import { direct, httpRoute, routingConformanceCases, withObjects, type RoutingContext } from '../support/routing-conformance.js';

const echoApp = path.join(examplesDir, 'echo', 'echo.mjs');

const echoWorkload = (name: string, withService = true) => `
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: gamma, labels: { app: ${name} } }
spec:
  serviceAccountName: ${name}
  command: ["node", ${JSON.stringify(echoApp)}]
  ports: [{ name: web }]
${
  withService
    ? `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: gamma }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 8080, targetPort: web }]`
    : ''
}
`;

const client = (ns: string, withNamespace = true) => `
---
${withNamespace ? `apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---` : ''}
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: client, namespace: ${ns} }
spec:
  serviceAccountName: client
  command: ["node", "-e", "setInterval(() => {}, 1 << 30)"]
  upstreams: [{ service: echo, namespace: gamma, port: 80 }]
`;

const manifests = `
apiVersion: v1
kind: Namespace
metadata: { name: gamma }
${echoWorkload('echo', false)}${['v1', 'v2', 'v3'].map((n) => echoWorkload(n)).join('')}
---
# echo also answers on port 80 (the "ports" case tells 80 from 8080).
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: gamma }
spec:
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: web }, { name: http-alt, port: 8080, targetPort: web }]
${client('gamma', false)}
${client('consumer')}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: gamma }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
${['echo', 'v1', 'v2', 'v3']
  .map(
    (sa) => `
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: clients-to-${sa}, namespace: gamma }
spec:
  destination: { kind: ServiceAccount, name: ${sa}, namespace: gamma }
  rules: [{ kind: HTTPRouteGroup, name: everything }]
  sources: [{ kind: ServiceAccount, name: client, namespace: gamma }, { kind: ServiceAccount, name: client, namespace: consumer }]
`,
  )
  .join('')}
`;

const route = (name: string, spec: string, ns = 'gamma') => httpRoute(name, ns, spec);

const echoParentRefs = '[{ group: "", kind: Service, name: echo, port: 80 }]';
const parentEcho = `  parentRefs: ${echoParentRefs}\n`;

describe('mesh routing (GAMMA HTTPRoute)', { timeout: 600_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let gammaClient: WorkloadInstanceResource;
  let consumerClient: WorkloadInstanceResource;

  const send = (p: string, opts: { method?: string; headers?: Record<string, string>; via?: WorkloadInstanceResource; host?: string } = {}): Promise<Reply> =>
    viaProxy((opts.via ?? gammaClient).spec.outboundPort, `http://${opts.host ?? 'echo.gamma'}${p}`, opts);

  const check = (p: string, e: Expectation, opts: Parameters<typeof send>[1] = {}) =>
    expectEventually(() => send(p, opts), e, `${opts.method ?? 'GET'} ${p} ${JSON.stringify(opts.headers ?? {})}`);

  const conformance: RoutingContext = {
    mode: 'mesh',
    namespace: 'gamma',
    parentRefs: () => echoParentRefs,
    send: (p, opts) => send(p, opts),
    apply: async (yaml) => void (await mesh.client.apply({ files: [{ path: 'route.yaml', content: yaml }] })),
    delete: async (yaml) => void (await mesh.client.delete({ files: [{ path: 'route.yaml', content: yaml }] })),
    instance: (workload) => mesh.instance('gamma', `${workload}-0`),
    redirectHost: 'echo.gamma',
    // The Service port the client calls: a redirect without a port keeps it.
    listenerPort: () => 80,
  };

  const withRoute = (yaml: string, body: () => Promise<void>) => withObjects(conformance, yaml, body);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-gamma-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), manifests);
    mesh = await startMesh(dir);
    gammaClient = await mesh.instance('gamma', 'client-0');
    consumerClient = await mesh.instance('consumer', 'client-0');
  });

  after(async () => {
    await mesh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  routingConformanceCases(conformance);

  // Mesh only: which calls a route applies to (the Service, its ports, the client's namespace) and SMI interplay.
  it('frontend: a route on a Service applies to calls to the Service, not to calls straight to a pod', async () => {
    const v2 = await mesh.instance('gamma', 'v2-0');
    await withRoute(
      route(
        'frontend',
        `  parentRefs: [{ group: "", kind: Service, name: v2 }]
  rules:
  - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-header-set, value: set }] } }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
      ),
      async () => {
        await check('/', { backend: 'v2', headers: { 'x-header-set': 'set' } }, { host: 'v2.gamma:8080' });
        const r = await direct(v2.spec.ports[0]!.port, '/');
        assert.equal(parseEcho(r)?.headers['x-header-set'], undefined);
      },
    );
  });

  it('frontend by Service, not by a forged Host header', async () => {
    const upstreamPort = gammaClient.spec.upstreams.find((u) => u.service === 'echo')!.localPort;
    await withRoute(
      route('by-service', parentEcho + `  rules: [{ backendRefs: [{ name: v3, port: 8080 }] }]\n`),
      async () => {
        // Through the explicit upstream port of Service echo, with a Host header naming v2.
        await expectEventually(() => direct(upstreamPort, '/', { host: 'v2.gamma:8080' }), { backend: 'v3' }, 'forged host');
      },
    );
  });

  it('ports: a parentRef with a port applies to that port only; without one, to every port', async () => {
    await withRoute(route('port-80', parentEcho + `  rules: [{ backendRefs: [{ name: v1, port: 8080 }] }]\n`), async () => {
      await check('/', { backend: 'v1' });
      await check('/', { backend: 'echo' }, { host: 'echo.gamma:8080' });
    });
    await withRoute(
      route('all-ports', `  parentRefs: [{ group: "", kind: Service, name: echo }]\n  rules: [{ backendRefs: [{ name: v2, port: 8080 }] }]\n`),
      async () => {
        await check('/', { backend: 'v2' });
        await check('/', { backend: 'v2' }, { host: 'echo.gamma:8080' });
      },
    );
  });

  it('consumer route: a route in the client namespace affects only that namespace', async () => {
    await withRoute(
      route(
        'consumer',
        `  parentRefs: [{ group: "", kind: Service, name: echo, namespace: gamma, port: 80 }]\n  rules: [{ backendRefs: [{ name: v2, namespace: gamma, port: 8080 }] }]\n`,
        'consumer',
      ),
      async () => {
        await check('/', { backend: 'v2' }, { via: consumerClient });
        await check('/', { backend: 'echo' }, { via: gammaClient });
      },
    );
  });

  it('an HTTPRoute takes precedence over a TrafficSplit of the same Service', async () => {
    const split = {
      path: 'split.yaml',
      content: `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: echo-split, namespace: gamma }
spec:
  service: echo
  backends: [{ service: v3, weight: 1 }]
`,
    };
    await mesh.client.apply({ files: [split] });
    try {
      await expectEventually(() => send('/', { host: 'echo.gamma:8080' }), { backend: 'v3' }, 'split alone');
      await withRoute(route('over-split', parentEcho + `  rules: [{ backendRefs: [{ name: v1, port: 8080 }] }]\n`), async () => {
        await check('/', { backend: 'v1' });
        // Port 8080 has no route: the split still applies there.
        await check('/', { backend: 'v3' }, { host: 'echo.gamma:8080' });
      });
      // Port 80 is split again, and v3 has no port 80: the split has no usable backend there.
      await check('/', { status: 503 });
    } finally {
      await mesh.client.delete({ files: [split] });
    }
  });
});
