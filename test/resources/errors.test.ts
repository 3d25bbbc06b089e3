import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests } from '../../src/resources/parse.js';
import { formatManifestError, type ManifestError } from '../../src/resources/errors.js';

const only = (errors: ManifestError[]): ManifestError => {
  assert.equal(errors.length, 1, errors.map(formatManifestError).join('\n'));
  return errors[0]!;
};

const split = (weight: string, version = 'v1alpha2') => `apiVersion: split.smi-spec.io/${version}
kind: TrafficSplit
metadata:
  name: s
  namespace: shop
spec:
  service: web
  backends:
  - service: web-v1
    weight: 10
  - service: web-v2
    weight: ${weight}
`;

describe('manifest errors', () => {
  it('rejects a TrafficSplit weight that is negative, naming file, line and field', () => {
    const r = parseManifests(split('-5'), 'split.yaml');
    const e = only(r.errors);
    assert.deepEqual([e.code, e.file, e.document, e.line, e.path], ['TRELLIS_E_INVALID_FIELD', 'split.yaml', 0, 12, 'spec.backends[1].weight']);
    assert.equal(r.resources.length, 0);
    assert.equal(
      formatManifestError(e),
      'split.yaml:12: document 0: spec.backends[1].weight: weight must be a non-negative integer, got number -5 (TRELLIS_E_INVALID_FIELD)',
    );
  });

  it('rejects a v1alpha2 weight written as a quantity, pointing at v1alpha1', () => {
    const e = only(parseManifests(split('500m'), 'f.yaml').errors);
    assert.equal(e.path, 'spec.backends[1].weight');
    assert.match(e.message, /v1alpha1 only/);
  });

  it('rejects a malformed v1alpha1 quantity weight', () => {
    const e = only(parseManifests(split('"5x"', 'v1alpha1'), 'f.yaml').errors);
    assert.deepEqual([e.line, e.path, e.code], [12, 'spec.backends[1].weight', 'TRELLIS_E_INVALID_FIELD']);
  });

  it('rejects a root service FQDN in another namespace', () => {
    const text = split('5').replace('service: web\n', 'service: web.other.svc.cluster.local\n');
    const e = only(parseManifests(text, 'f.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_NAMESPACE_MISMATCH', 7, 'spec.service']);
  });

  it('rejects an unknown kind, naming apiVersion/kind and listing supported kinds', () => {
    const text = 'apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n';
    const e = only(parseManifests(text, 'g.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_UNKNOWN_KIND', 2, 'kind']);
    assert.match(e.message, /"Gizmo".*example\.com\/v1/);
    assert.match(e.message, /TrafficSplit \(split\.smi-spec\.io\/v1alpha1/);
  });

  it('suggests the right spelling for a wrong-case kind', () => {
    const e = only(parseManifests('apiVersion: split.smi-spec.io/v1alpha2\nkind: trafficsplit\nmetadata: {name: a}\n', 'f.yaml').errors);
    assert.match(e.message, /did you mean TrafficSplit\?/);
  });

  it('rejects an unknown apiVersion of a known kind, listing the served versions', () => {
    const text = 'apiVersion: split.smi-spec.io/v1beta9\nkind: TrafficSplit\nmetadata:\n  name: s\nspec: {}\n';
    const e = only(parseManifests(text, 't.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_UNKNOWN_API_VERSION', 1, 'apiVersion']);
    assert.match(e.message, /split\.smi-spec\.io\/v1alpha4/);
  });

  it('rejects a pathRegex that RE2 cannot compile, naming the field', () => {
    const text = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: g
spec:
  matches:
  - name: ok
    pathRegex: /ok
  - name: bad
    pathRegex: "/(unclosed"
`;
    const e = only(parseManifests(text, 'g.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_INVALID_REGEX', 10, 'spec.matches[1].pathRegex']);
  });

  it('rejects a header regex with a backreference (not linear-time), naming the header', () => {
    const text = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: g
spec:
  matches:
  - name: m
    headers:
    - "x-a": "(a)\\\\1"
`;
    const e = only(parseManifests(text, 'g.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_INVALID_REGEX', 9, 'spec.matches[0].headers[0].x-a']);
  });

  it('rejects a Workload whose replicas is a string, naming the field and the value', () => {
    const text = `apiVersion: trellis.dev/v1alpha1
kind: Workload
metadata:
  name: web
spec:
  command: [node, server.js]
  replicas: "two"
`;
    const e = only(parseManifests(text, 'w.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_INVALID_FIELD', 7, 'spec.replicas']);
    assert.equal(e.message, 'replicas must be a number, got the string "two"');
  });

  it('reports a missing required field at the line of its parent', () => {
    const text = 'apiVersion: trellis.dev/v1alpha1\nkind: Workload\nmetadata:\n  name: web\nspec:\n  replicas: 2\n';
    const e = only(parseManifests(text, 'w.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path, e.message], ['TRELLIS_E_MISSING_FIELD', 5, 'spec.command', 'command is required']);
  });

  it('reports a YAML syntax error with its line and keeps the other documents', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: [b\n';
    const r = parseManifests(text, 'bad.yaml');
    const e = only(r.errors);
    assert.equal(e.code, 'TRELLIS_E_YAML_SYNTAX');
    assert.equal(e.document, 1);
    assert.ok(e.line >= 9, `line ${e.line}`);
    assert.equal(r.resources.length, 1);
  });

  it('rejects a document that is not a map', () => {
    const e = only(parseManifests('- a\n- b\n', 'l.yaml').errors);
    assert.equal(e.code, 'TRELLIS_E_NOT_AN_OBJECT');
  });

  it('rejects duplicate Workload port names', () => {
    const text = 'apiVersion: trellis.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec:\n  command: [x]\n  ports:\n  - name: http\n  - name: http\n';
    const e = only(parseManifests(text, 'w.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_DUPLICATE_NAME', 8, 'spec.ports[1].name']);
  });

  it('reports an unknown field as a warning with its path, not an error', () => {
    const text = 'apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata:\n  name: s\nspec:\n  service: web\n  backends:\n  - service: a\n    weight: 1\n    colour: blue\n';
    const r = parseManifests(text, 's.yaml');
    assert.equal(r.errors.length, 0);
    assert.equal(r.resources.length, 1);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.line, w.path]), [['TRELLIS_W_UNKNOWN_FIELD', 10, 'spec.backends[0].colour']]);
  });

  it('gives correct document index and line numbers in the third document', () => {
    const text = [
      '# first',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      '  name: a',
      '---',
      'apiVersion: v1',
      'kind: ServiceAccount',
      'metadata:',
      '  name: b',
      '---',
      '# third',
      'apiVersion: v1',
      'kind: Service',
      'metadata:',
      '  name: c',
      'spec:',
      '  ports:',
      '  - port: 80',
      '  - port: 70000',
      '',
    ].join('\n');
    const r = parseManifests(text, 'multi.yaml');
    const e = only(r.errors);
    assert.deepEqual([e.document, e.line, e.path], [2, 20, 'spec.ports[1].port']);
    assert.deepEqual(r.resources.map((x) => [x.kind, x.source?.document, x.source?.line]), [
      ['Namespace', 0, 2],
      ['ServiceAccount', 1, 7],
    ]);
  });

  it('skips empty documents but keeps counting them', () => {
    const r = parseManifests('---\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n', 'e.yaml');
    assert.equal(r.errors.length, 0);
    assert.equal(r.resources.length, 1);
    assert.equal(r.resources[0]!.source!.line, 5);
  });
  it('names the inner field when a Kubernetes-style env entry has a non-string value', () => {
    const text = 'apiVersion: trellis.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec:\n  command: [x]\n  env:\n  - name: A\n    value: {nested: 1}\n';
    const e = only(parseManifests(text, 'w.yaml').errors);
    assert.deepEqual([e.code, e.line, e.path], ['TRELLIS_E_INVALID_FIELD', 8, 'spec.env[0].value']);
  });

  it('reports a v1alpha1 TrafficTarget without fields by its own top-level field names', () => {
    const r = parseManifests('apiVersion: access.smi-spec.io/v1alpha1\nkind: TrafficTarget\nmetadata: {name: t}\n', 't.yaml');
    assert.deepEqual(r.errors.map((e) => [e.code, e.path]), [
      ['TRELLIS_E_MISSING_FIELD', 'destination'],
      ['TRELLIS_E_MISSING_FIELD', 'sources'],
    ]);
  });
});
