// Paths tests need, computed from this file's place in dist/test/support/.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (tests run from dist/test/, two levels below dist/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** ../shared/conformance beside the repository. */
export const conformanceDir = path.resolve(repoRoot, '../shared/conformance');
export const examplesDir = path.join(repoRoot, 'examples');
