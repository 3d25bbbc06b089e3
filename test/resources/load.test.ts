import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listManifestFiles, loadManifests } from '../../src/resources/parse.js';
import { TrellisResourceError } from '../../src/resources/errors.js';

const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

describe('loadManifests', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-load-'));
    await mkdir(path.join(dir, 'b', 'deep'), { recursive: true });
    await mkdir(path.join(dir, '.trellis'));
    await mkdir(path.join(dir, 'node_modules', 'x'), { recursive: true });
    await writeFile(path.join(dir, 'z.yaml'), ns('z'));
    await writeFile(path.join(dir, 'a.yml'), ns('a'));
    await writeFile(path.join(dir, 'b', 'deep', 'm.yaml'), ns('m'));
    await writeFile(path.join(dir, 'notes.txt'), 'not yaml');
    await writeFile(path.join(dir, '.trellis', 'state.yaml'), ns('hidden'));
    await writeFile(path.join(dir, 'node_modules', 'x', 'pkg.yaml'), ns('dep'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a directory recursively in path order, skipping dot-directories and node_modules', async () => {
    const files = await listManifestFiles(dir);
    assert.deepEqual(files.map((f) => path.relative(dir, f)), ['a.yml', path.join('b', 'deep', 'm.yaml'), 'z.yaml']);
    const r = await loadManifests(dir);
    assert.deepEqual(r.resources.map((x) => x.metadata.name), ['a', 'm', 'z']);
    assert.equal(r.resources[1]!.source!.file, path.join(dir, 'b', 'deep', 'm.yaml'));
  });

  it('reads a single file', async () => {
    const r = await loadManifests(path.join(dir, 'z.yaml'));
    assert.deepEqual(r.resources.map((x) => x.metadata.name), ['z']);
  });

  it('rejects a missing path with TRELLIS_E_READ_FAILED', async () => {
    await assert.rejects(loadManifests(path.join(dir, 'nope')), (e: unknown) => e instanceof TrellisResourceError && e.code === 'TRELLIS_E_READ_FAILED');
  });
});
