// HTTPRoutes attached to an ingress Gateway, end to end: the routing cases
// of ../shared/conformance/gateway-api.md that mesh routing also runs
// (test/support/routing-conformance.ts), sent to the gateway's listener with
// the same requests and expected answers, then the gateway-only ones that
// test/local/gateway.e2e.test.ts does not cover: rules across routes on
// overlapping hostnames, precedence between routes by age then name, and
// routes that do not attach (NotAllowedByListeners, NoMatchingParent).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listenerPorts } from '../support/ports.js';
import { expectEventually, type Expectation } from '../support/conformance.js';
import { eventually, startMesh, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';
import { httpRoute, routingConformanceCases, withObjects, type RoutingContext, type SendOptions } from '../support/routing-conformance.js';

const echoApp = path.join(examplesDir, 'echo', 'echo.mjs');
const NS = 'ingress';
const GATEWAY = 'edge';
const LISTENER = 'http';
const BACKENDS = ['echo', 'v1', 'v2', 'v3'];

const backend = (name: string) => `
---
apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata: { name: ${name}, namespace: ${NS}, labels: { app: ${name} } }
spec:
  serviceAccountName: ${name}
  command: ["node", ${JSON.stringify(echoApp)}]
  ports: [{ name: web }]
---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${NS} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 8080, targetPort: web }]
`;

const manifests = (port: number) => `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
# Routes from here may not attach to the listener (allowedRoutes: Same).
apiVersion: v1
kind: Namespace
metadata: { name: other }
${BACKENDS.map((b) => backend(b)).join('')}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: trellis }
spec: { controllerName: trellis.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${GATEWAY}, namespace: ${NS} }
spec:
  gatewayClassName: trellis
  listeners:
  - { name: ${LISTENER}, port: ${port}, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } } }
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: { name: everything, namespace: ${NS} }
spec:
  matches: [{ name: all, pathRegex: ".*", methods: ["*"] }]
${BACKENDS.map(
  (sa) => `---
# The gateway calls with its own identity: service account ${GATEWAY}, the Gateway's name.
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: { name: gateway-to-${sa}, namespace: ${NS} }
spec:
  destination: { kind: ServiceAccount, name: ${sa}, namespace: ${NS} }
  rules: [{ kind: HTTPRouteGroup, name: everything }]
  sources: [{ kind: ServiceAccount, name: ${GATEWAY}, namespace: ${NS} }]
`,
).join('')}
`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** A request to the gateway listener on 127.0.0.1, with the Host a client outside the mesh would send. */
function request(port: number, p: string, opts: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: p,
        method: opts.method ?? 'GET',
        headers: { host: opts.host ?? 'example.com', ...opts.headers },
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message?: string;
}

interface RouteWithStatus {
  metadata: { name: string; namespace: string; creationTimestamp?: string };
  status?: { parents?: { parentRef: { name: string; sectionName?: string; port?: number }; conditions: Condition[] }[] };
}

describe('ingress gateway routing (Gateway API HTTPRoute conformance)', { timeout: 600_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let port: number;

  const send = (p: string, opts: SendOptions = {}) => request(port, p, opts);
  const check = (p: string, e: Expectation, opts: SendOptions = {}) =>
    expectEventually(() => send(p, opts), e, `${opts.method ?? 'GET'} ${opts.host ?? 'example.com'}${p} ${JSON.stringify(opts.headers ?? {})}`);

  const parentRefs = () => `[{ name: ${GATEWAY}, sectionName: ${LISTENER} }]`;
  const conformance: RoutingContext = {
    mode: 'gateway',
    namespace: NS,
    parentRefs,
    send,
    apply: async (yaml) => void (await mesh.client.apply({ files: [{ path: 'route.yaml', content: yaml }] })),
    delete: async (yaml) => void (await mesh.client.delete({ files: [{ path: 'route.yaml', content: yaml }] })),
    instance: (workload) => mesh.instance(NS, `${workload}-0`),
    redirectHost: 'example.com',
    // A redirect without a port keeps the listener's port: http://example.com:<port>/...
    listenerPort: () => port,
  };
  const withRoute = (yaml: string, body: () => Promise<void>) => withObjects(conformance, yaml, body);
  /** A route on the listener in the gateway's namespace; `rest` = hostnames and rules. */
  const route = (name: string, rest: string) => httpRoute(name, NS, `  parentRefs: ${parentRefs()}\n${rest}`);

  async function routes(namespace: string): Promise<RouteWithStatus[]> {
    return (await mesh.client.list('HTTPRoute', { namespace })).items as unknown as RouteWithStatus[];
  }

  /** Waits until condition `type` of the route's parent `parent` has `status` and `reason`. */
  async function expectCondition(namespace: string, name: string, parent: number, type: string, status: string, reason: string): Promise<void> {
    let last = 'route not listed';
    try {
      await eventually(
        async () => {
          const r = (await routes(namespace)).find((x) => x.metadata.name === name);
          const c = r?.status?.parents?.[parent]?.conditions.find((x) => x.type === type);
          last = c ? `${c.status} ${c.reason}: ${c.message ?? ''}` : `no ${type} condition in ${JSON.stringify(r?.status)}`;
          return c?.status === status && c.reason === reason;
        },
        30_000,
        `${namespace}/${name} parent ${parent} ${type}=${status} ${reason}`,
      );
    } catch (err) {
      assert.fail(`${(err as Error).message}; last seen ${last}`);
    }
  }

  before(async () => {
    [port] = (await listenerPorts(1)) as [number];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-gateway-routing-'));
    fs.writeFileSync(path.join(dir, 'mesh.yaml'), manifests(port));
    mesh = await startMesh(dir);
  });

  after(async () => {
    agent.destroy();
    await mesh?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (mesh) fs.rmSync(mesh.stateDir, { recursive: true, force: true });
  });

  routingConformanceCases(conformance);

  // Gateway only.

  const acrossRoutes = (part2Hostname: string) =>
    [
      route(
        'matching-part1',
        `  hostnames: [example.com, example.net]
  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      route(
        'matching-part2',
        `  hostnames: ["${part2Hostname}"]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
      ),
    ].join('---\n');

  /** The requests and answers of the suite's HTTPRouteMatchingAcrossRoutes. */
  async function checkAcrossRoutes(): Promise<void> {
    await check('/', { backend: 'v1' }, { host: 'example.com' });
    await check('/example', { backend: 'v1' }, { host: 'example.com' });
    await check('/example', { backend: 'v1' }, { host: 'example.net' });
    await check('/example', { backend: 'v1' }, { host: 'example.com', headers: { version: 'one' } });
    await check('/v2', { backend: 'v2' }, { host: 'example.com' });
    // The /v2 rule belongs to a route without example.net.
    await check('/v2', { backend: 'v1' }, { host: 'example.net' });
    await check('/v2/example', { backend: 'v2' }, { host: 'example.com' });
    await check('/', { backend: 'v2' }, { host: 'example.com', headers: { version: 'two' } });
    await check('/', { status: 404 }, { host: 'example.org' });
  }

  it('across routes: the hostname decides which route\'s rules apply (example.net /v2 → v1 when only example.com has the /v2 rule)', async () => {
    await withRoute(acrossRoutes('example.com'), checkAcrossRoutes);
  });

  it('across routes: the rules of a wildcard-hostname route (*.com) also apply to example.com, which another route names exactly', async () => {
    // The suite's own shape (httproute-matching-across-routes.yaml: part2 has hostnames ["*.com"]).
    await withRoute(acrossRoutes('*.com'), checkAcrossRoutes);
  });

  it('precedence across routes: the older route wins identical matches, then namespace/name', async () => {
    const routeB = route(
      'route-b',
      `  rules:
  - matches: [{ path: { type: Exact, value: /same } }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
    );
    const routeA = route(
      'route-a',
      `  rules:
  - matches: [{ path: { type: Exact, value: /same } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /route-a } }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
    );
    // B first, A later: B is older, though A comes first by name.
    await withRoute(routeB, async () => {
      await check('/same', { backend: 'v2' });
      await withRoute(routeA, async () => {
        await check('/route-a', { backend: 'v1' }); // A is served now
        const [a, b] = ['route-a', 'route-b'].map((n) => routes(NS).then((rs) => rs.find((r) => r.metadata.name === n)!.metadata.creationTimestamp!));
        assert.ok((await b) < (await a), `route-b created ${await b}, route-a ${await a}`);
        await check('/same', { backend: 'v2' });
      });
    });
    // Created by one apply, at the same time: namespace/name decides, tie-a before tie-b.
    const ties = [
      route('tie-b', `  rules: [{ matches: [{ path: { type: Exact, value: /tie } }], backendRefs: [{ name: v2, port: 8080 }] }]\n`),
      route('tie-a', `  rules: [{ matches: [{ path: { type: Exact, value: /tie } }], backendRefs: [{ name: v1, port: 8080 }] }]\n`),
    ].join('---\n');
    await withRoute(ties, async () => {
      const created = (await routes(NS)).filter((r) => r.metadata.name.startsWith('tie-')).map((r) => r.metadata.creationTimestamp);
      assert.equal(created.length, 2);
      assert.equal(created[0], created[1], 'one apply gives both routes the same creationTimestamp');
      await check('/tie', { backend: 'v1' });
    });
  });

  const allowed = route('allowed', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /allowed } }], backendRefs: [{ name: v1, port: 8080 }] }]\n`);

  it('invalid references: a route from a namespace the listener does not allow is NotAllowedByListeners and serves nothing', async () => {
    const foreign = httpRoute(
      'foreign',
      'other',
      `  parentRefs: [{ name: ${GATEWAY}, namespace: ${NS}, sectionName: ${LISTENER} }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /foreign } }], backendRefs: [{ name: v1, namespace: ${NS}, port: 8080 }] }]
`,
    );
    await withRoute([allowed, foreign].join('---\n'), async () => {
      await expectCondition('other', 'foreign', 0, 'Accepted', 'False', 'NotAllowedByListeners');
      await check('/allowed', { backend: 'v1' });
      await check('/foreign', { status: 404 });
      const { items } = await mesh.client.list('Gateway', { namespace: NS });
      const gw = items[0] as unknown as { status: { listeners: { name: string; attachedRoutes: number }[] } };
      assert.equal(gw.status.listeners.find((l) => l.name === LISTENER)?.attachedRoutes, 1, 'only the allowed route is attached');
    });
  });

  it('invalid references: a parentRef sectionName or port that matches no listener is NoMatchingParent and serves nothing', async () => {
    const noSection = httpRoute(
      'no-section',
      NS,
      `  parentRefs: [{ name: ${GATEWAY}, sectionName: no-such-listener }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /no-section } }], backendRefs: [{ name: v1, port: 8080 }] }]
`,
    );
    const noPort = httpRoute(
      'no-port',
      NS,
      `  parentRefs: [{ name: ${GATEWAY}, port: 1 }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /no-port } }], backendRefs: [{ name: v1, port: 8080 }] }]
`,
    );
    await withRoute([allowed, noSection, noPort].join('---\n'), async () => {
      await expectCondition(NS, 'no-section', 0, 'Accepted', 'False', 'NoMatchingParent');
      await expectCondition(NS, 'no-port', 0, 'Accepted', 'False', 'NoMatchingParent');
      await check('/allowed', { backend: 'v1' });
      await check('/no-section', { status: 404 });
      await check('/no-port', { status: 404 });
    });
  });

  it('invalid references: a backend of an unknown kind is InvalidKind and answers 500', async () => {
    await withRoute(
      route(
        'invalid-kind',
        `  rules:
  - matches: [{ path: { type: PathPrefix, value: /widget } }]
    backendRefs: [{ group: example.dev, kind: Widget, name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /ok } }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      async () => {
        await expectCondition(NS, 'invalid-kind', 0, 'ResolvedRefs', 'False', 'InvalidKind');
        await check('/widget', { status: 500 });
        await check('/ok', { backend: 'v1' });
      },
    );
  });
});
