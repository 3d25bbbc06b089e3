// Golden files: manifests in, every compiled snapshot and diagnostic out, as
// stable JSON in test/fixtures/golden/<case>/expected.json. Each expected file
// was reviewed against SMI semantics (docs/smi.md), not just accepted.
// `UPDATE_GOLDEN=1 node --test dist/test/compiler/` rewrites the expected files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compileSnapshots } from '../../src/compiler/compile.js';
import { formatManifestError } from '../../src/resources/errors.js';
import { loadManifests } from '../../src/resources/load.js';
import type { Resource } from '../../src/resources/types.js';
import { conformanceDir, examplesDir, repoRoot } from '../support/paths.js';
import { goldenJson, lineDiff } from './support.js';

const goldenDir = path.join(repoRoot, 'test', 'fixtures', 'golden');
const smiDir = path.join(repoRoot, 'test', 'fixtures', 'smi');
const osm = path.join(conformanceDir, 'osm-bookstore');
const update = process.env.UPDATE_GOLDEN === '1';

interface GoldenCase {
  name: string;
  /** What the case shows. */
  about: string;
  /** Manifest files or folders loaded before the case's own input.yaml. */
  inputs: string[];
}

const CASES: GoldenCase[] = [
  {
    name: 'bookstore-demo',
    about: 'the bookstore demo: deny by default, OSM routes, a 100/0 split',
    inputs: [path.join(examplesDir, 'bookstore', 'mesh')],
  },
  {
    name: 'osm-bookstore',
    about: 'OSM bookstore access and 50/50 split, mysql over a TCPRoute',
    inputs: [
      ...['bookbuyer', 'bookstore', 'bookstore-v2', 'bookthief', 'bookwarehouse', 'mysql'].map((a) =>
        path.join(osm, 'apps', `${a}.yaml`),
      ),
      path.join(osm, 'access', 'traffic-access-v1.yaml'),
      path.join(osm, 'split', 'traffic-split-50-50.yaml'),
    ],
  },
  { name: 'traffictarget-v1alpha1', about: 'v1alpha1 specs, destination.port', inputs: [path.join(smiDir, 'traffictarget-v1alpha1.yaml')] },
  { name: 'traffictarget-v1alpha2', about: 'v1alpha2 rules, destination.port', inputs: [path.join(smiDir, 'traffictarget-v1alpha2.yaml')] },
  { name: 'traffictarget-v1alpha3', about: 'v1alpha3 TCPRoute + HTTPRouteGroup rules, UDPRoute not enforced', inputs: [path.join(smiDir, 'traffictarget-v1alpha3.yaml')] },
  { name: 'httproutegroup-v1alpha1', about: 'top-level matches, rule without matches = every match', inputs: [] },
  { name: 'httproutegroup-v1alpha2', about: 'header map, anchoring, lower-cased names', inputs: [] },
  { name: 'httproutegroup-v1alpha3', about: 'spec.matches, wildcard method', inputs: [] },
  { name: 'httproutegroup-v1alpha4', about: 'OSM-style header list, lower-case methods', inputs: [] },
  { name: 'tcproute', about: 'TCPRoute without spec (all ports) and with ports', inputs: [] },
  { name: 'trafficsplit-v1alpha1', about: 'quantity weights to milli-units', inputs: [] },
  { name: 'trafficsplit-v1alpha2', about: 'integer weights, weight 0 dropped', inputs: [] },
  { name: 'trafficsplit-v1alpha3', about: 'canary, backend without the root port', inputs: [] },
  { name: 'trafficsplit-v1alpha4', about: 'matches → A/B route before the default; TCP root', inputs: [] },
];

async function loadCase(c: GoldenCase): Promise<Resource[]> {
  const resources: Resource[] = [];
  for (const p of [...c.inputs, path.join(goldenDir, c.name, 'input.yaml')]) {
    const r = await loadManifests(p);
    assert.deepEqual(r.errors.map(formatManifestError), [], `${p} has parse errors`);
    resources.push(...r.resources);
  }
  return resources;
}

describe('compiler golden files', () => {
  for (const c of CASES) {
    it(`compiles ${c.name} (${c.about}) to the reviewed snapshots`, async (t) => {
      const actual = goldenJson(compileSnapshots(await loadCase(c)));
      const file = path.join(goldenDir, c.name, 'expected.json');
      if (update) {
        writeFileSync(file, actual);
        t.diagnostic(`updated ${path.relative(repoRoot, file)}`);
        return;
      }
      assert.ok(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 to create it, then review it`);
      const expected = readFileSync(file, 'utf8');
      if (actual !== expected) {
        assert.fail(
          `${c.name}: compiled output differs from ${path.relative(repoRoot, file)}` +
            ` (review, then UPDATE_GOLDEN=1 to accept):\n${lineDiff(expected, actual)}`,
        );
      }
    });
  }
});
