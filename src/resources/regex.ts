// Regular expressions in SMI resources (pathRegex, header values) and in
// Gateway API `RegularExpression` matches are RE2: linear-time, no
// backreferences. Parsing compiles each one to reject bad patterns early,
// naming the field.
import RE2 from 're2';
import { ErrorCodes } from './errors.js';
import type { FieldPath, IssueSink } from './validate.js';

/** Returns undefined if `pattern` compiles with RE2, else the engine's reason. */
export function re2CompileError(pattern: string): string | undefined {
  try {
    new RE2(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Reports TRELLIS_E_INVALID_REGEX at `path` when `pattern` does not compile
 * with RE2; returns whether it compiled.
 */
export function checkRegex(pattern: string, path: FieldPath, sink: IssueSink): boolean {
  const reason = re2CompileError(pattern);
  if (reason === undefined) return true;
  sink.error(path, `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`, ErrorCodes.INVALID_REGEX);
  return false;
}
