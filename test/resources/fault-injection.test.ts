import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';
import { loadManifests, parseManifests } from '../../src/resources/parse.js';
import { formatManifestError, type ManifestError } from '../../src/resources/errors.js';
import { resolveKind } from '../../src/resources/kinds.js';
import type { FaultInjectionResource } from '../../src/resources/types.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'resources');

function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" not in text`);
  return i + 1;
}

const fault = (rules: string, targetRef = '  targetRef: {group: "", kind: Service, name: splitdim}\n') => `apiVersion: policy.trellis.dev/v1alpha1
kind: FaultInjection
metadata:
  name: chaos
  namespace: splitdim
spec:
${targetRef}${rules}`;

function expectError(text: string, code: string, errPath: string, needle: string, message?: RegExp): ManifestError {
  const r = parseManifests(text, 'fault.yaml');
  assert.equal(r.errors.length, 1, r.errors.map(formatManifestError).join('\n') || 'no error');
  assert.equal(r.resources.length, 0);
  const e = r.errors[0]!;
  assert.deepEqual([e.code, e.path, e.line], [code, errPath, lineOf(text, needle)], formatManifestError(e));
  if (message) assert.match(e.message, message);
  return e;
}

describe('FaultInjection', () => {
  it('loads rules with matches, aborts and delays, defaulting percentages to 100', async () => {
    const r = await loadManifests(path.join(fixtures, 'policies.yaml'));
    assert.deepEqual(r.errors.map(formatManifestError), []);
    const f = r.resources.find((x) => x.kind === 'FaultInjection') as FaultInjectionResource;
    assert.equal(f.metadata.namespace, 'splitdim');
    assert.deepEqual(f.spec, {
      targetRef: { group: '', kind: 'Service', name: 'splitdim' },
      rules: [
        {
          match: { path: { type: 'PathPrefix', value: '/api/list' }, headers: [{ type: 'Exact', name: 'x-chaos', value: 'on' }], queryParams: [], method: 'GET' },
          abort: { httpStatus: 500, percentage: 10 },
        },
        { delay: { fixedDelayMs: 2000, percentage: 50 } },
        {
          match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [{ type: 'Exact', name: 'slow', value: '1' }] },
          abort: { httpStatus: 503, percentage: 0.5 },
          delay: { fixedDelayMs: 250, percentage: 100 },
        },
      ],
    });
  });

  it('defaults the targetRef group and kind', () => {
    const r = parseManifests(fault('  rules:\n  - abort: {httpStatus: 418}\n', '  targetRef: {name: splitdim}\n'), 'fault.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual((r.resources[0] as FaultInjectionResource).spec, {
      targetRef: { group: '', kind: 'Service', name: 'splitdim' },
      rules: [{ abort: { httpStatus: 418, percentage: 100 } }],
    });
  });

  it('is listed under its plural and short name', () => {
    for (const name of ['faultinjections', 'faultinjection', 'fi', 'FaultInjection']) assert.equal(resolveKind(name), 'FaultInjection');
  });
});

describe('FaultInjection errors', () => {
  it('needs at least one rule', () => {
    expectError(fault('  rules: []\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules', 'rules: []', /at least one rule/);
    expectError(fault(''), 'TRELLIS_E_MISSING_FIELD', 'spec.rules', 'spec:');
  });

  it('needs abort or delay in each rule', () => {
    const text = fault('  rules:\n  - abort: {httpStatus: 500}\n  - match: {method: GET}\n');
    expectError(text, 'TRELLIS_E_MISSING_FIELD', 'spec.rules[1]', '- match:', /abort, delay or both/);
  });

  it('checks the abort status and the percentages', () => {
    expectError(fault('  rules:\n  - abort:\n      httpStatus: 199\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].abort.httpStatus', 'httpStatus: 199', /200 to 599/);
    expectError(fault('  rules:\n  - abort:\n      httpStatus: 600\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].abort.httpStatus', 'httpStatus: 600');
    expectError(fault('  rules:\n  - abort:\n      httpStatus: 500\n      percentage: 100.5\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].abort.percentage', 'percentage: 100.5', /0 to 100/);
    expectError(fault('  rules:\n  - delay:\n      fixedDelay: 1s\n      percentage: -1\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].delay.percentage', 'percentage: -1');
  });

  it('needs a delay longer than 0 and at most 1h', () => {
    expectError(fault('  rules:\n  - delay:\n      fixedDelay: 0s\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].delay.fixedDelay', 'fixedDelay: 0s', /longer than 0/);
    expectError(fault('  rules:\n  - delay:\n      fixedDelay: 61m\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].delay.fixedDelay', 'fixedDelay: 61m', /at most 1h/);
    expectError(fault('  rules:\n  - delay:\n      fixedDelay: 2\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].delay.fixedDelay', 'fixedDelay: 2', /must be a string/);
    expectError(fault('  rules:\n  - delay:\n      percentage: 5\n'), 'TRELLIS_E_MISSING_FIELD', 'spec.rules[0].delay.fixedDelay', 'delay:');
  });

  it('checks the match like an HTTPRoute match', () => {
    expectError(fault('  rules:\n  - abort: {httpStatus: 500}\n    match:\n      method: BREW\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.rules[0].match.method', 'method: BREW');
    expectError(
      fault('  rules:\n  - abort: {httpStatus: 500}\n    match:\n      headers:\n      - {name: x, type: RegularExpression, value: "a**"}\n'),
      'TRELLIS_E_INVALID_REGEX',
      'spec.rules[0].match.headers[0].value',
      '- {name: x',
    );
  });

  it('targets a Service only', () => {
    expectError(fault('  rules:\n  - abort: {httpStatus: 500}\n', '  targetRef: {kind: HTTPRoute, name: r}\n'), 'TRELLIS_E_INVALID_FIELD', 'spec.targetRef.kind', 'targetRef:', /kind must be Service/);
  });
});
