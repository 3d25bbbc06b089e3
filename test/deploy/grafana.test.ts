// The Grafana dashboards in deploy/grafana/ parse, use the datasource
// variable, and query only metric names and labels of the sidecars' metric
// contract (METRIC_CONTRACT), so they cannot drift from what proxies export.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { contractSeriesNames, METRIC_CONTRACT } from '../../src/control-plane/metrics-collector.js';
import { repoRoot } from '../support/paths.js';

const DIR = path.join(repoRoot, 'deploy', 'grafana');
const DASHBOARDS = ['mesh.json', 'service.json', 'workload.json'];

const FUNCTIONS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'topk', 'bottomk', 'quantile', 'rate', 'irate', 'increase', 'delta',
  'histogram_quantile', 'clamp_min', 'clamp_max', 'abs', 'sort', 'sort_desc', 'vector', 'scalar',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** Labels a series of the contract may carry (histogram buckets add `le`). */
function labelsOf(series: string): Set<string> | undefined {
  for (const [name, m] of Object.entries(METRIC_CONTRACT)) {
    if (series === name) return new Set(m.labels);
    if (m.type === 'histogram' && series.startsWith(name + '_')) {
      return new Set([...m.labels, ...(series === name + '_bucket' ? ['le'] : [])]);
    }
  }
  return undefined;
}

/** Problems of one PromQL expression against the contract: unknown metrics, functions, labels. */
export function checkExpr(expr: string): string[] {
  const problems: string[] = [];
  const series = contractSeriesNames();
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const used: string[] = [];
  // Selectors: metric{label op "value", ...}.
  e = e.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_m, name: string | undefined, body: string) => {
    if (!name) {
      problems.push('a selector without a metric name');
      return ' ';
    }
    used.push(name);
    const allowed = labelsOf(name);
    for (const [, label] of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (allowed && !allowed.has(label)) problems.push(`${name} has no label ${label}`);
    }
    return ` ${name} `;
  });
  // Grouping clauses: their labels are checked once every metric of the expression is known.
  const grouped: string[] = [];
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _k, list: string) => {
    grouped.push(...list.split(',').map((s) => s.trim()).filter(Boolean));
    return ' ';
  });
  for (const m of e.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const before = e[m.index - 1] ?? '';
    if (/[0-9.]/.test(before) || /^[eE]$/.test(word)) continue; // part of a number (1e3)
    const isCall = /^\s*\(/.test(e.slice(m.index + word.length));
    if (isCall) {
      if (!FUNCTIONS.has(word)) problems.push(`unknown function ${word}`);
    } else if (!KEYWORDS.has(word)) {
      used.push(word);
    }
  }
  for (const name of used) if (!series.has(name)) problems.push(`metric ${name} is not in the contract`);
  const allowed = new Set(used.flatMap((n) => [...(labelsOf(n) ?? [])]));
  for (const label of grouped) if (!allowed.has(label)) problems.push(`grouping label ${label} is not a label of ${[...new Set(used)].join(', ')}`);
  if (used.length === 0) problems.push('no metric');
  return problems;
}

/** `label_values(selector, label)` of a template variable. */
function checkLabelValues(query: string): string[] {
  const m = /^label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(query.trim());
  if (!m) return [`not a label_values(selector, label) query: ${query}`];
  const problems = checkExpr(m[1]);
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(m[1])?.[0] ?? '';
  if (!labelsOf(name)?.has(m[2])) problems.push(`${name} has no label ${m[2]}`);
  return problems;
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

function panelsOf(d: { panels: Panel[] }): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

describe('Grafana dashboards', () => {
  test('the checker catches drift', () => {
    assert.deepEqual(checkExpr('sum by (destination_workload) (rate(trellis_requests_total{direction="inbound"}[$__rate_interval]))'), []);
    assert.deepEqual(checkExpr('histogram_quantile(0.95, sum by (le) (rate(trellis_request_duration_seconds_bucket{route!=""}[5m])))'), []);
    assert.deepEqual(checkExpr('sum(rate(trelis_requests_total[1m]))'), ['metric trelis_requests_total is not in the contract']);
    assert.deepEqual(checkExpr('sum(rate(trellis_request_duration_seconds_bucket{reason="rbac"}[1m]))'), [
      'trellis_request_duration_seconds_bucket has no label reason',
    ]);
    assert.deepEqual(checkExpr('sum by (pod) (rate(trellis_requests_total[1m]))'), ['grouping label pod is not a label of trellis_requests_total']);
    assert.deepEqual(checkExpr('rate(trellis_requests_total[1m]) / 2e3'), []);
  });

  for (const file of DASHBOARDS) {
    test(`${file} parses and queries only the metric contract`, () => {
      const d = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as {
        schemaVersion: number;
        uid: string;
        title: string;
        panels: Panel[];
        templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
      };
      assert.equal(d.schemaVersion, 39);
      assert.match(d.uid, /^trellis-/);
      const vars = d.templating.list;
      const ds = vars.find((v) => v.name === 'datasource');
      assert.ok(ds && ds.type === 'datasource' && ds.query === 'prometheus', 'a Prometheus datasource variable');
      const problems: string[] = [];
      for (const v of vars.filter((x) => x.type === 'query')) {
        assert.equal(v.datasource?.uid, '${datasource}', `variable ${v.name} uses the datasource variable`);
        const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
        problems.push(...checkLabelValues(q).map((p) => `variable ${v.name}: ${p}`));
      }
      assert.ok(vars.some((v) => v.name === 'namespace'), 'a namespace variable');
      const panels = panelsOf(d).filter((p) => p.type !== 'row');
      assert.ok(panels.length >= 8, `${panels.length} panels`);
      const ids = new Set<string>();
      for (const p of panels) {
        assert.equal(p.datasource?.uid, '${datasource}', `panel ${p.title} uses the datasource variable`);
        assert.ok(p.targets && p.targets.length > 0, `panel ${p.title} has queries`);
        for (const t of p.targets!) {
          assert.equal(t.datasource?.uid, '${datasource}');
          problems.push(...checkExpr(t.expr).map((x) => `panel "${p.title}": ${x}\n  ${t.expr}`));
          for (const m of t.expr.matchAll(/trellis_[a-z_]+/g)) ids.add(m[0]);
        }
      }
      assert.deepEqual(problems, []);
      // Each dashboard shows requests, latency and TCP.
      assert.ok(ids.has('trellis_requests_total'));
      assert.ok(ids.has('trellis_request_duration_seconds_bucket'));
      assert.ok([...ids].some((n) => n.startsWith('trellis_tcp_')));
    });
  }

  test('the folder holds exactly the documented dashboards', () => {
    assert.deepEqual(
      fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort(),
      DASHBOARDS,
    );
  });
});
