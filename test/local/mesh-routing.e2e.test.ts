// Gateway API HTTPRoutes with a Service parent (GAMMA), end to end: the mesh
// cases of ../shared/conformance/gateway-api.md against a real `trellis up`
// with echo backends, judged the way the conformance suite judges them.
// Each case applies its route through the admin API and deletes it after.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { expectEventually, parseEcho, type Expectation } from '../support/conformance.js';
import { sleep, startMesh, viaProxy, type Reply, type RunningMesh } from '../support/mesh.js';
import { examplesDir } from '../support/paths.js';

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

const route = (name: string, spec: string, ns = 'gamma') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}`;

const parentEcho = `  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]\n`;

describe('mesh routing (GAMMA HTTPRoute)', { timeout: 600_000 }, () => {
  let mesh: RunningMesh;
  let dir: string;
  let gammaClient: WorkloadInstanceResource;
  let consumerClient: WorkloadInstanceResource;

  const send = (p: string, opts: { method?: string; headers?: Record<string, string>; via?: WorkloadInstanceResource; host?: string } = {}): Promise<Reply> =>
    viaProxy((opts.via ?? gammaClient).spec.outboundPort, `http://${opts.host ?? 'echo.gamma'}${p}`, opts);

  const check = (p: string, e: Expectation, opts: Parameters<typeof send>[1] = {}) =>
    expectEventually(() => send(p, opts), e, `${opts.method ?? 'GET'} ${p} ${JSON.stringify(opts.headers ?? {})}`);

  async function withRoute(yaml: string, body: () => Promise<void>): Promise<void> {
    const file = { path: 'route.yaml', content: yaml };
    await mesh.client.apply({ files: [file] });
    try {
      await body();
    } finally {
      await mesh.client.delete({ files: [file] });
    }
  }

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

  it('basic: without a route the Service answers itself', async () => {
    await check('/', { backend: 'echo', path: '/' });
  });

  it('matching: path prefixes on whole segments, headers, several matches ORed', async () => {
    await withRoute(
      route(
        'matching',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /v2 } }, { headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
      ),
      async () => {
        for (const p of ['/', '/example']) await check(p, { backend: 'v1' });
        await check('/', { backend: 'v1' }, { headers: { version: 'one' } });
        for (const p of ['/v2', '/v2/', '/v2/example']) await check(p, { backend: 'v2' });
        await check('/', { backend: 'v2' }, { headers: { version: 'two' } });
        for (const p of ['/v2example', '/foo/v2/example']) await check(p, { backend: 'v1' });
      },
    );
  });

  it('exact path matches only the exact, case-sensitive path', async () => {
    await withRoute(
      route(
        'exact',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: Exact, value: /one } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /two } }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
      ),
      async () => {
        await check('/one', { backend: 'v1' });
        await check('/two', { backend: 'v2' });
        for (const p of ['/', '/one/example', '/two/', '/Two']) await check(p, { status: 404 });
      },
    );
  });

  it('headers: more header matches win, ties go to the first rule', async () => {
    await withRoute(
      route(
        'headers',
        parentEcho +
          `  rules:
  - matches: [{ headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: v2, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }, { name: color, value: orange }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: blue }] }, { headers: [{ name: color, value: green }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: red }] }, { headers: [{ name: color, value: yellow }] }]
    backendRefs: [{ name: v2, port: 8080 }]
`,
      ),
      async () => {
        await check('/', { backend: 'v1' }, { headers: { version: 'one' } });
        await check('/', { backend: 'v2' }, { headers: { version: 'two' } });
        await check('/', { backend: 'v1' }, { headers: { version: 'two', color: 'orange' } });
        await check('/', { backend: 'v2' }, { headers: { version: 'two', color: 'blue' } });
        for (const color of ['blue', 'green']) await check('/', { backend: 'v1' }, { headers: { color } });
        for (const color of ['red', 'yellow']) await check('/', { backend: 'v2' }, { headers: { color } });
        await check('/', { status: 404 }, { headers: { color: 'orange' } });
        await check('/', { status: 404 }, { headers: { 'some-other-header': 'one' } });
        await check('/', { status: 404 }, { headers: { color: 'purple' } });
      },
    );
  });

  it('query params: case-sensitive names and values; path and header beat query', async () => {
    await withRoute(
      route(
        'query',
        parentEcho +
          `  rules:
  - matches: [{ queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: dolphin }] }]
    backendRefs: [{ name: v2, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: dolphin }, { name: color, value: blue }] }, { queryParams: [{ name: ANIMAL, value: Whale }] }]
    backendRefs: [{ name: v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path1 } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: echo, port: 8080 }]
`,
      ),
      async () => {
        await check('/?animal=whale', { backend: 'v1', path: '/?animal=whale' });
        await check('/?animal=dolphin', { backend: 'v2' });
        await check('/?animal=dolphin&color=blue', { backend: 'v3' });
        await check('/?ANIMAL=Whale', { backend: 'v3' });
        for (const p of ['/?animal=dog', '/?animal=whaledolphin', '/']) await check(p, { status: 404 });
        await check('/path1?animal=whale', { backend: 'echo' });
        await check('/?animal=whale', { backend: 'echo' }, { headers: { version: 'one' } });
      },
    );
  });

  it('method: path beats method, method beats header', async () => {
    await withRoute(
      route(
        'method',
        parentEcho +
          `  rules:
  - matches: [{ method: POST }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ method: GET }]
    backendRefs: [{ name: v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path1 } }, { headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: v3, port: 8080 }]
`,
      ),
      async () => {
        await check('/', { backend: 'v1' }, { method: 'POST' });
        await check('/', { backend: 'v2' });
        await check('/', { status: 404 }, { method: 'HEAD' });
        await check('/path1', { backend: 'v3' }, { method: 'POST' });
        await check('/', { backend: 'v2' }, { headers: { version: 'one' } });
      },
    );
  });

  it('path match order: exact beats prefix, the longest prefix wins', async () => {
    const rule = (type: string, value: string) => `  - matches: [{ path: { type: ${type}, value: ${value} } }]
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: "${type}:${value}" }] } }]
    backendRefs: [{ name: v1, port: 8080 }]
`;
    await withRoute(
      route(
        'order',
        parentEcho +
          '  rules:\n' +
          [
            ['PathPrefix', '/match/'],
            ['Exact', '/match/exact'],
            ['PathPrefix', '/match/prefix/'],
            ['Exact', '/match'],
            ['PathPrefix', '/match/prefix/one'],
            ['Exact', '/match/exact/one'],
          ]
            .map(([t, v]) => rule(t!, v!))
            .join(''),
      ),
      async () => {
        const cases: [string, string][] = [
          ['/match', 'Exact:/match'],
          ['/match/exact', 'Exact:/match/exact'],
          ['/match/exact/one', 'Exact:/match/exact/one'],
          ['/match/prefix', 'PathPrefix:/match/prefix/'],
          ['/match/prefix/one', 'PathPrefix:/match/prefix/one'],
          ['/match/prefix/two', 'PathPrefix:/match/prefix/'],
          ['/match/any', 'PathPrefix:/match/'],
        ];
        for (const [p, rule] of cases) await check(p, { backend: 'v1', headers: { 'x-rule': rule } });
      },
    );
  });

  it('weights: 70/30/0 within ±0.05 over 2,000 requests, nothing to weight 0', async () => {
    await withRoute(
      route(
        'weights',
        parentEcho +
          `  rules:
  - backendRefs: [{ name: v1, port: 8080, weight: 70 }, { name: v2, port: 8080, weight: 30 }, { name: v3, port: 8080, weight: 0 }]
`,
      ),
      async () => {
        await check('/', { backend: 'v1' });
        const counts = new Map<string, number>();
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (next < 2000) {
              next++;
              const r = await send('/');
              assert.equal(r.status, 200, r.body);
              const b = parseEcho(r)!.service;
              counts.set(b, (counts.get(b) ?? 0) + 1);
            }
          }),
        );
        const total = [...counts.values()].reduce((a, b) => a + b, 0);
        assert.equal(counts.get('v3') ?? 0, 0, 'the weight-0 backend got requests');
        assert.ok(Math.abs((counts.get('v1') ?? 0) / total - 0.7) <= 0.05, `v1 ${counts.get('v1')}/${total}`);
        assert.ok(Math.abs((counts.get('v2') ?? 0) / total - 0.3) <= 0.05, `v2 ${counts.get('v2')}/${total}`);
      },
    );
  });

  it('header modifiers: set, add, remove on requests and responses; at backend level too', async () => {
    await withRoute(
      route(
        'headers-mod',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: /req } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: add-appends-values }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /res } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: add-appends-values }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /backend } }]
    backendRefs:
    - name: v2
      port: 8080
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-backend-filter, value: v2 }] } }]
`,
      ),
      async () => {
        await check(
          '/req',
          { backend: 'v1', headers: { 'x-header-set': 'set-overwrites-values', 'x-header-add': 'some-other-value,add-appends-values' }, absentHeaders: ['x-header-remove'] },
          { headers: { 'X-Header-Set': 'some-other-value', 'X-Header-Add': 'some-other-value', 'X-Header-Remove': 'val' } },
        );
        await check(
          '/res',
          {
            backend: 'v1',
            responseHeaders: { 'x-header-set': 'set-overwrites-values', 'x-header-add': 'header-val-1,add-appends-values' },
            absentResponseHeaders: ['x-header-remove'],
          },
          { headers: { 'X-Echo-Set-Header': 'X-Header-Set:some-other-value,X-Header-Add:header-val-1,X-Header-Remove:val' } },
        );
        await check('/backend', { backend: 'v2', headers: { 'x-backend-filter': 'v2' } });
      },
    );
  });

  it('redirects: hostname, status, path, scheme and port', async () => {
    const redirect = (p: string, spec: string) => `  - matches: [{ path: { type: PathPrefix, value: ${p} } }]
    filters: [{ type: RequestRedirect, requestRedirect: ${spec} }]
`;
    await withRoute(
      route(
        'redirects',
        parentEcho +
          '  rules:\n' +
          redirect('/hostname', '{ hostname: example.org }') +
          redirect('/status', '{ hostname: example.org, statusCode: 301 }') +
          redirect('/original-prefix', '{ path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } }') +
          redirect('/full', '{ path: { type: ReplaceFullPath, replaceFullPath: /full-path-replacement } }') +
          redirect('/scheme', '{ scheme: https }') +
          redirect('/port', '{ port: 8083 }') +
          redirect('/s307', '{ statusCode: 307 }'),
      ),
      async () => {
        await check('/hostname', { status: 302, location: 'http://example.org/hostname' });
        await check('/status', { status: 301, location: 'http://example.org/status' });
        await check('/original-prefix/lemon', { status: 302, location: 'http://echo.gamma/replacement-prefix/lemon' });
        await check('/full/x?q=1', { status: 302, location: 'http://echo.gamma/full-path-replacement?q=1' });
        await check('/scheme', { status: 302, location: 'https://echo.gamma/scheme' });
        await check('/port', { status: 302, location: 'http://echo.gamma:8083/port' });
        await check('/s307', { status: 307, location: 'http://echo.gamma/s307' });
      },
    );
  });

  it('rewrites: prefix, full path and hostname', async () => {
    await withRoute(
      route(
        'rewrites',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: /prefix/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /one } } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /strip-prefix } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /full/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /one } } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /host } }]
    filters: [{ type: URLRewrite, urlRewrite: { hostname: rewritten.example } }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      async () => {
        await check('/prefix/one/two', { backend: 'v1', path: '/one/two' });
        await check('/strip-prefix/three', { backend: 'v1', path: '/three' });
        await check('/strip-prefix', { backend: 'v1', path: '/' });
        await check('/full/one/two', { backend: 'v1', path: '/one' });
        await check('/host', { backend: 'v1', host: 'rewritten.example' });
      },
    );
  });

  it('mirror: the copy arrives, the caller is answered by the backend and is not slowed by a stalled mirror', async () => {
    const v2 = await mesh.instance('gamma', 'v2-0');
    const v3 = await mesh.instance('gamma', 'v3-0');
    const control = (inst: WorkloadInstanceResource, q: string) => direct(inst.spec.ports[0]!.port, `/echo-control${q}`);
    await withRoute(
      route(
        'mirror',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: /copy } }]
    filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: v2, port: 8080 } } }]
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /stalled } }]
    filters: [{ type: RequestMirror, requestMirror: { backendRef: { name: v3, port: 8080 } } }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      async () => {
        await check('/copy', { backend: 'v1' });
        await control(v2, '?reset-count=1');
        for (let i = 0; i < 20; i++) assert.equal(parseEcho(await send('/copy'))?.service, 'v1');
        // Copies are fire and forget: give the last ones a moment to land.
        let seen = 0;
        for (let i = 0; i < 50 && seen < 20; i++) {
          seen = (JSON.parse((await control(v2, '')).body) as { requests: number }).requests;
          if (seen < 20) await sleep(100);
        }
        assert.equal(seen, 20, 'the mirror saw every request');

        await check('/stalled', { backend: 'v1' });
        await control(v3, '?mode=stall');
        try {
          const started = Date.now();
          for (let i = 0; i < 10; i++) assert.equal((await send('/stalled')).status, 200);
          const perRequest = (Date.now() - started) / 10;
          assert.ok(perRequest < 500, `requests took ${perRequest} ms each with a stalled mirror`);
        } finally {
          await control(v3, '?mode=normal');
        }
      },
    );
  });

  it('timeouts: request and backendRequest answer 504; 0s disables them', async () => {
    await withRoute(
      route(
        'timeouts',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: /request } }]
    timeouts: { request: 500ms }
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /backend } }]
    timeouts: { backendRequest: 500ms }
    backendRefs: [{ name: v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /disabled } }]
    timeouts: { request: 0s }
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      async () => {
        await check('/request?delay=1s', { status: 504 });
        await check('/request?delay=10ms', { backend: 'v1' });
        await check('/backend?delay=1s', { status: 504 });
        await check('/disabled?delay=1s', { backend: 'v1' });
      },
    );
  });

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

  it('invalid references: a missing backend answers 500; a rule without backends answers 500 while valid rules answer', async () => {
    await withRoute(
      route(
        'invalid',
        parentEcho +
          `  rules:
  - matches: [{ path: { type: PathPrefix, value: /missing } }]
    backendRefs: [{ name: does-not-exist, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /none } }]
  - matches: [{ path: { type: PathPrefix, value: /ok } }]
    backendRefs: [{ name: v1, port: 8080 }]
`,
      ),
      async () => {
        await check('/missing', { status: 500 });
        await check('/none', { status: 500 });
        await check('/ok', { backend: 'v1' });
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

/** A plain request to a local port (an app port or an explicit upstream port). */
function direct(port: number, p: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
