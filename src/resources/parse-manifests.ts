// Multi-document YAML → resources, foreign documents, errors and warnings,
// each error and warning located by file, document index, line and field path.
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml';
import type { ForeignDocument, Resource, SourceLocation } from './types.js';
import { ErrorCodes, type ManifestError, type ManifestWarning } from './errors.js';
import { parseDocumentValue } from './parse-object.js';
import type { FieldPath } from './validate.js';

export interface ParseResult {
  resources: Resource[];
  foreign: ForeignDocument[];
  errors: ManifestError[];
  warnings: ManifestWarning[];
}

export function emptyParseResult(): ParseResult {
  return { resources: [], foreign: [], errors: [], warnings: [] };
}

/** Line (1-based) of the node at `path`: the key's line for map entries; the deepest existing ancestor otherwise. */
function locator(doc: Document, lines: LineCounter): (path: FieldPath) => number | undefined {
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);
  return (path) => {
    let node: unknown = doc.contents;
    let line = lineOf((node as { range?: [number, number, number] } | null)?.range?.[0]);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) === String(seg) : p.key === seg));
        if (!pair) break;
        const keyNode = pair.key as { range?: [number, number, number] } | null;
        line = lineOf(keyNode?.range?.[0]) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as { range?: [number, number, number] } | undefined;
        if (!item) break;
        line = lineOf(item.range?.[0]) ?? line;
        node = item;
      } else {
        break;
      }
    }
    return line;
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/**
 * Parses every document of a YAML text. Empty documents are skipped; a
 * document with a YAML syntax error yields TRELLIS_E_YAML_SYNTAX and nothing else.
 */
export function parseManifests(text: string, file: string): ParseResult {
  const out = emptyParseResult();
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true });
  if (!Array.isArray(docs)) return out; // an empty stream
  docs.forEach((doc, index) => {
    const docStart = doc.contents?.range?.[0] ?? doc.range[0];
    const docLine = lines.linePos(docStart).line;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        out.errors.push({
          code: ErrorCodes.YAML_SYNTAX,
          file,
          document: index,
          line: lines.linePos(e.pos[0]).line,
          path: '',
          message: `YAML syntax error: ${firstLine(e.message)}`,
        });
      }
      return;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return; // empty document
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.errors.push({ code: ErrorCodes.YAML_SYNTAX, file, document: index, line: docLine, path: '', message: `YAML error: ${firstLine(String((e as Error).message ?? e))}` });
      return;
    }
    const source: SourceLocation = { file, document: index, line: docLine };
    const r = parseDocumentValue(value, source, locator(doc, lines));
    out.errors.push(...r.errors);
    out.warnings.push(...r.warnings);
    if (r.resource) out.resources.push(r.resource);
    if (r.foreign) out.foreign.push(r.foreign);
  });
  return out;
}

/** Appends `b` to `a` (in place) and returns `a`. */
export function mergeParseResults(a: ParseResult, b: ParseResult): ParseResult {
  a.resources.push(...b.resources);
  a.foreign.push(...b.foreign);
  a.errors.push(...b.errors);
  a.warnings.push(...b.warnings);
  return a;
}
