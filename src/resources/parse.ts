// The parsing entry points in one place: YAML text, files and directories, JSON objects.
export { parseManifests, mergeParseResults, emptyParseResult, type ParseResult } from './parse-manifests.js';
export { loadManifests, listManifestFiles } from './load.js';
export { parseObject, parseDocumentValue, type ObjectParseResult, type Locator } from './parse-object.js';
