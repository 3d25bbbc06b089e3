// Regular expressions in SMI resources (pathRegex, header values) are RE2:
// linear-time, no backreferences. Parsing compiles each one to reject bad
// patterns early, naming the field.
import RE2 from 're2';

/** Returns undefined if `pattern` compiles with RE2, else the engine's reason. */
export function re2CompileError(pattern: string): string | undefined {
  try {
    new RE2(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
