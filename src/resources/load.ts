// Reading manifests from disk: one file, or a directory recursively
// (*.yaml, *.yml, sorted by path; dot-directories and node_modules skipped).
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, TrellisResourceError } from './errors.js';
import { emptyParseResult, mergeParseResults, parseManifests, type ParseResult } from './parse-manifests.js';

const MANIFEST = /\.ya?ml$/i;

/** Every manifest file under `dir`, sorted by path. */
export async function listManifestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name.startsWith('.') || e.name === 'node_modules') continue;
        await walk(full);
      } else if ((e.isFile() || e.isSymbolicLink()) && MANIFEST.test(e.name) && !e.name.startsWith('.')) {
        found.push(full);
      }
    }
  };
  await walk(dir);
  return found.sort();
}

/**
 * Loads a manifest file, or every manifest of a directory tree. Parse
 * problems are in the result; an unreadable path rejects with TRELLIS_E_READ_FAILED.
 */
export async function loadManifests(pathOrDir: string): Promise<ParseResult> {
  let files: string[];
  try {
    files = (await stat(pathOrDir)).isDirectory() ? await listManifestFiles(pathOrDir) : [pathOrDir];
  } catch (e) {
    throw new TrellisResourceError(ErrorCodes.READ_FAILED, `cannot read manifests from ${pathOrDir}: ${(e as Error).message}`, { cause: e });
  }
  const out = emptyParseResult();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new TrellisResourceError(ErrorCodes.READ_FAILED, `cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    mergeParseResults(out, parseManifests(text, file));
  }
  return out;
}
