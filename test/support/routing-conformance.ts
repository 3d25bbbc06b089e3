// The HTTPRoute conformance cases of ../shared/conformance/gateway-api.md
// that mesh routing (routes whose parent is a Service, called through a
// client sidecar) and the ingress gateway (routes whose parent is a Gateway
// listener) share: the same routing engine must give the same answers to the
// same requests. Each end-to-end file starts its own mesh and calls
// routingConformanceCases inside its describe(); the cases apply their route
// through the admin API and delete it after, so they run one after another.

import assert from 'node:assert/strict';
import http from 'node:http';
import { it } from 'node:test';
import type { WorkloadInstanceResource } from '../../src/resources/types.js';
import { expectEventually, parseEcho, type Expectation } from './conformance.js';
import { sleep, type Reply } from './mesh.js';

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** The Host of the request; each mode has its default (mesh: echo.gamma, gateway: example.com). */
  host?: string;
}

export interface RoutingContext {
  /** mesh: Service parent through a client sidecar; gateway: Gateway listener parent. Some cases differ by nature (basic). */
  mode: 'mesh' | 'gateway';
  /** The namespace of the routes and of the backends echo, v1, v2 and v3 (Services on port 8080). */
  namespace: string;
  /** The parentRefs of every route, as a YAML flow sequence. Read when a case runs. */
  parentRefs(): string;
  send(path: string, opts?: SendOptions): Promise<Reply>;
  /** Applies / deletes the objects of one manifest (mesh.client.apply/delete). */
  apply(yaml: string): Promise<void>;
  delete(yaml: string): Promise<void>;
  /** The instance of a backend workload (for its app port: mirror counts and stalls). */
  instance(workload: string): Promise<WorkloadInstanceResource>;
  /** The host name redirects keep when they do not set one: the default Host the cases send. */
  redirectHost: string;
  /**
   * The port redirects keep when they set neither port nor scheme (Gateway
   * API: the listener's port). Mesh: the Service port (80); gateway: the
   * listener's port. Omitted from Location when it is 80. Read when a case runs.
   */
  listenerPort(): number;
}

/** An HTTPRoute manifest; `spec` is indented by two spaces and ends with a newline. */
export function httpRoute(name: string, namespace: string, spec: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;
}

/** Applies `yaml`, runs `body`, then deletes what `yaml` created, whatever happened. */
export async function withObjects(ctx: Pick<RoutingContext, 'apply' | 'delete'>, yaml: string, body: () => Promise<void>): Promise<void> {
  await ctx.apply(yaml);
  try {
    await body();
  } finally {
    await ctx.delete(yaml);
  }
}

/** A plain request to a local port (an app port or an explicit upstream port). */
export function direct(port: number, p: string, headers: Record<string, string> = {}): Promise<Reply> {
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

/** Registers the shared cases with it(); call inside a describe() whose before() starts the mesh. */
export function routingConformanceCases(ctx: RoutingContext): void {
  const check = (p: string, e: Expectation, opts: SendOptions = {}) =>
    expectEventually(() => ctx.send(p, opts), e, `${opts.method ?? 'GET'} ${p} ${JSON.stringify(opts.headers ?? {})}`);
  /** A route of this mode: its parentRefs, then `rest` (rules, two-space indented). */
  const route = (name: string, rest: string) => httpRoute(name, ctx.namespace, `  parentRefs: ${ctx.parentRefs()}\n${rest}`);
  const withRoute = (yaml: string, body: () => Promise<void>) => withObjects(ctx, yaml, body);
  /** host[:port] as a redirect that keeps the listener's port writes it. */
  const authority = (host: string) => (ctx.listenerPort() === 80 ? host : `${host}:${ctx.listenerPort()}`);

  if (ctx.mode === 'mesh') {
    it('basic: without a route the Service answers itself', async () => {
      await check('/', { backend: 'echo', path: '/' });
    });
  } else {
    it('basic: without a route the gateway answers 404; a route to one backend answers', async () => {
      await check('/', { status: 404 });
      await withRoute(route('basic', `  rules: [{ backendRefs: [{ name: echo, port: 8080 }] }]\n`), async () => {
        await check('/', { backend: 'echo', path: '/' });
      });
    });
  }

  it('matching: path prefixes on whole segments, headers, several matches ORed', async () => {
    await withRoute(
      route(
        'matching',
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
              const r = await ctx.send('/');
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
        // Without a port, a redirect keeps the listener's port (written unless it is 80), unless the scheme changes.
        const host = ctx.redirectHost;
        await check('/hostname', { status: 302, location: `http://${authority('example.org')}/hostname` });
        await check('/status', { status: 301, location: `http://${authority('example.org')}/status` });
        await check('/original-prefix/lemon', { status: 302, location: `http://${authority(host)}/replacement-prefix/lemon` });
        await check('/full/x?q=1', { status: 302, location: `http://${authority(host)}/full-path-replacement?q=1` });
        await check('/scheme', { status: 302, location: `https://${host}/scheme` });
        await check('/port', { status: 302, location: `http://${host}:8083/port` });
        await check('/s307', { status: 307, location: `http://${authority(host)}/s307` });
      },
    );
  });

  it('rewrites: prefix, full path and hostname', async () => {
    await withRoute(
      route(
        'rewrites',
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
    const v2 = await ctx.instance('v2');
    const v3 = await ctx.instance('v3');
    const control = (inst: WorkloadInstanceResource, q: string) => direct(inst.spec.ports[0]!.port, `/echo-control${q}`);
    await withRoute(
      route(
        'mirror',
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
        for (let i = 0; i < 20; i++) assert.equal(parseEcho(await ctx.send('/copy'))?.service, 'v1');
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
          for (let i = 0; i < 10; i++) assert.equal((await ctx.send('/stalled')).status, 200);
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

  it('invalid references: a missing backend answers 500; a rule without backends answers 500 while valid rules answer', async () => {
    await withRoute(
      route(
        'invalid',
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
}
