// Reads the manifests named by `-f` (files, folders recursively, `-` for stdin)
// so their text can be posted to the admin API: errors then come back naming
// the file and line the user knows.

import fs from 'node:fs';
import path from 'node:path';
import type { ManifestFile } from '../control-plane/admin-types.js';
import { CliError } from './context.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

export function readManifestFiles(paths: string[]): ManifestFile[] {
  const files: ManifestFile[] = [];
  for (const p of paths) {
    if (p === '-') {
      files.push({ path: '<stdin>', content: fs.readFileSync(0, 'utf8') });
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      throw new CliError(`cannot read ${p}: no such file or directory`, 1, 'TRELLIS_E_READ_FAILED');
    }
    const found = stat.isDirectory() ? walk(p) : [p];
    if (stat.isDirectory() && found.length === 0) throw new CliError(`no .yaml, .yml or .json files in ${p}`, 1, 'TRELLIS_E_READ_FAILED');
    for (const f of found) files.push({ path: path.resolve(f), content: fs.readFileSync(f, 'utf8') });
  }
  return files;
}

/** Manifest files under a folder, sorted, skipping dot-folders (.trellis, .git) and node_modules. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      out.push(...walk(full));
    } else if (e.isFile() && MANIFEST_EXT.test(e.name)) {
      out.push(full);
    }
  }
  return out;
}
