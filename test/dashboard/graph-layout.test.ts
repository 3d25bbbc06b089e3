// The graph page's pure parts (src/dashboard/graph.js, a browser module that
// touches the DOM only when drawing): namespace ranks, a layout that depends
// on names and edges but never on rates, the drawn edges and their labels.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../support/paths.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let g: any;

const node = (kind: 'workload' | 'service', ns: string, name: string, extra: Record<string, unknown> = {}) => ({
  id: `${kind}/${ns}/${name}`,
  kind,
  namespace: ns,
  name,
  rps: 0,
  successRate: null,
  p95Ms: null,
  requests: 0,
  failures: 0,
  denied: 0,
  health: 'idle',
  ...extra,
});
const edge = (source: string, target: string, extra: Record<string, unknown> = {}) => ({
  source,
  target,
  rps: 1,
  successRate: 1,
  p95Ms: 12.3,
  requests: 30,
  failures: 0,
  denied: 0,
  deniedReasons: {},
  protocol: 'http',
  ...extra,
});

function bookstore() {
  return {
    window: '30s',
    generatedAt: new Date().toISOString(),
    nodes: [
      node('workload', 'bookbuyer', 'bookbuyer'),
      node('workload', 'bookthief', 'bookthief'),
      node('service', 'bookstore', 'bookstore', { rps: 4, requests: 120, denied: 60, successRate: 1, health: 'healthy' }),
      node('service', 'bookstore', 'bookstore-v2'),
      node('workload', 'bookstore', 'bookstore-v1', { rps: 4, requests: 120, denied: 60, successRate: 1, health: 'healthy' }),
      node('service', 'bookwarehouse', 'bookwarehouse', { rps: 0.2, requests: 6, successRate: 1, health: 'healthy' }),
      node('workload', 'bookwarehouse', 'bookwarehouse', { rps: 0.2, requests: 6, successRate: 1, health: 'healthy' }),
    ],
    edges: [
      edge('workload/bookbuyer/bookbuyer', 'service/bookstore/bookstore', { splitWeight: 50 }),
      edge('workload/bookthief/bookthief', 'service/bookstore/bookstore', { rps: 2, requests: 60, denied: 60, successRate: null, deniedReasons: { rbac: 60 } }),
      edge('service/bookstore/bookstore', 'workload/bookstore/bookstore-v1', { requests: 120, denied: 60, rps: 4, deniedReasons: { rbac: 60 } }),
      edge('workload/bookstore/bookstore-v1', 'service/bookwarehouse/bookwarehouse', { rps: 0.2, requests: 6 }),
      edge('service/bookwarehouse/bookwarehouse', 'workload/bookwarehouse/bookwarehouse', { rps: 0.2, requests: 6 }),
    ],
  };
}

const positions = (graph: unknown) => {
  const l = g.layoutGraph(graph);
  return JSON.stringify({ p: [...l.positions.entries()].sort(), b: l.boxes, w: l.width, h: l.height });
};

describe('dashboard graph layout', () => {
  before(async () => {
    g = await import(pathToFileURL(path.join(repoRoot, 'src', 'dashboard', 'graph.js')).href);
  });

  it('ranks namespaces by who calls whom: callers left', () => {
    const r = g.namespaceRanks(bookstore().nodes, bookstore().edges);
    assert.deepEqual(Object.fromEntries(r), { bookbuyer: 0, bookstore: 1, bookthief: 0, bookwarehouse: 2 });
  });

  it('cuts cycles between namespaces', () => {
    const nodes = [node('workload', 'a', 'x'), node('workload', 'b', 'y')];
    const edges = [edge('workload/a/x', 'workload/b/y'), edge('workload/b/y', 'workload/a/x')];
    const r = g.namespaceRanks(nodes, edges);
    assert.ok([...r.values()].every((v: number) => v >= 0 && v < 2));
  });

  it('lays out the same graph the same way, whatever the order and the rates', () => {
    const a = bookstore();
    const b = bookstore();
    b.nodes.reverse();
    b.edges.reverse();
    for (const n of b.nodes) n.rps = 99;
    for (const e of b.edges) e.rps = 42;
    assert.equal(positions(a), positions(b));
    const l = g.layoutGraph(a);
    const x = (id: string) => l.positions.get(id).x;
    // Columns: bookbuyer and bookthief, then bookstore (services, then workloads), then bookwarehouse.
    assert.equal(x('workload/bookbuyer/bookbuyer'), x('workload/bookthief/bookthief'));
    assert.ok(x('workload/bookbuyer/bookbuyer') < x('service/bookstore/bookstore'));
    assert.ok(x('service/bookstore/bookstore') < x('workload/bookstore/bookstore-v1'));
    assert.ok(x('workload/bookstore/bookstore-v1') < x('service/bookwarehouse/bookwarehouse'));
    assert.equal(x('service/bookstore/bookstore'), x('service/bookstore/bookstore-v2'));
    assert.deepEqual(l.boxes.map((b: { namespace: string }) => b.namespace), ['bookbuyer', 'bookthief', 'bookstore', 'bookwarehouse']);
  });

  it('draws denied traffic as an edge of its own, served traffic with its share of the rate', () => {
    const drawn = g.drawnEdges(bookstore().edges);
    const of = (source: string, target: string) => drawn.filter((d: { edge: { source: string; target: string } }) => d.edge.source === source && d.edge.target === target).map((d: { kind: string; rps: number }) => [d.kind, d.rps]);
    assert.deepEqual(of('workload/bookthief/bookthief', 'service/bookstore/bookstore'), [['denied', 2]]);
    assert.deepEqual(of('service/bookstore/bookstore', 'workload/bookstore/bookstore-v1'), [['traffic', 2], ['denied', 2]]);
    assert.deepEqual(of('workload/bookbuyer/bookbuyer', 'service/bookstore/bookstore'), [['traffic', 1]]);
  });

  it('labels edges "rps · success · p95" and denied edges with the count and reason', () => {
    const drawn = g.drawnEdges(bookstore().edges);
    const labels = drawn.map((d: unknown) => g.edgeLabel(d));
    assert.ok(labels.includes('1.0 rps · 100% · p95 12 ms'), labels.join(' | '));
    assert.ok(labels.includes('denied 60 (rbac)'), labels.join(' | '));
    assert.equal(g.edgeLabel({ kind: 'denied', edge: { denied: 5, deniedReasons: { rbac: 3, other: 2 } } }), 'denied 5 (rbac 3, other 2)');
  });

  it('shows the calls a client workload makes, with the health they have', () => {
    const { nodes, edges } = bookstore();
    const buyer = g.withOutgoing(nodes[0], edges);
    assert.equal(g.nodeStats(buyer), 'calls 1.0 rps · 100%');
    assert.equal(buyer.health, 'healthy');
    const thief = g.withOutgoing(nodes[1], edges);
    assert.equal(g.nodeStats(thief), 'calls 2.0 rps · all denied');
    assert.equal(thief.health, 'failing');
    assert.equal(g.nodeStats(nodes[3]), 'no traffic');
    assert.equal(g.nodeStats(nodes[2]), '4.0 rps · 100% · 60 denied');
  });
});
