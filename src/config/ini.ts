// INI parser with the semantics of oslo.config's iniparser + cfg.ConfigParser.
//
// - `key = value` or `key: value`: whichever of '=' / ':' comes first splits.
// - Key and value are stripped; a value wrapped in matching '…' or "…" loses the quotes.
// - Comment lines start with '#' or ';' in column 0. An inline "# text" is part of the value.
// - A line starting with a blank or tab continues the previous value (joined with "\n");
//   a blank line, comment or section header ends the value.
// - `[DEFAULT]` is exact; every other section name is lower-cased for lookup.
// - An assignment before any section header is a parse error.
// - A key repeated in the same (normalized) section: the last occurrence wins.
// Pure: takes the text, returns the assignments; no file system access.

export interface IniAssignment {
  /** Section name as written in the file (without brackets). */
  readonly section: string;
  /** Normalized group name used for lookups ('DEFAULT' or lower-cased). */
  readonly group: string;
  readonly key: string;
  readonly value: string;
  /** 1-based line number of the line holding the key. */
  readonly line: number;
}

export interface IniDocument {
  readonly filename: string;
  /** Every assignment in file order (repeated keys included). */
  readonly assignments: readonly IniAssignment[];
  /** Normalized group names in order of first appearance. */
  readonly groups: readonly string[];
}

export class IniParseError extends Error {
  override readonly name = 'IniParseError';
  constructor(readonly filename: string, readonly line: number, readonly reason: string, readonly text: string) {
    super(`${filename}:${line}: ${reason}: ${JSON.stringify(text)}`);
  }
}

export function normalizeGroupName(section: string): string {
  return section === 'DEFAULT' ? section : section.toLowerCase();
}

// Python's str.strip()/rstrip()/lstrip() without arguments strip Unicode whitespace, as does JS trim.
function splitKeyValue(line: string): { key: string; value: string } | null {
  const colon = line.indexOf(':');
  const equal = line.indexOf('=');
  if (colon < 0 && equal < 0) return null;
  const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
  const key = line.slice(0, at).trim();
  let value = line.slice(at + 1).trim();
  if (value.length > 0 && (value[0] === '"' || value[0] === "'") && value[0] === value[value.length - 1]) {
    value = value.slice(1, -1);
  }
  return { key, value };
}

export function parseIni(text: string, filename: string): IniDocument {
  // Python text mode: universal newlines. A UTF-8 BOM is tolerated (oslo would choke on it).
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const assignments: IniAssignment[] = [];
  const groups: string[] = [];
  let section: string | null = null;
  let pending: { key: string; parts: string[]; line: number; text: string } | null = null;

  const flush = (): void => {
    if (!pending) return;
    if (section === null) {
      throw new IniParseError(filename, pending.line, 'Section must be started before assignment', pending.text);
    }
    assignments.push({
      section,
      group: normalizeGroupName(section),
      key: pending.key,
      value: pending.parts.join('\n'),
      line: pending.line,
    });
    pending = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineno = i + 1;
    const line = lines[i]!.trimEnd();
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!pending) throw new IniParseError(filename, lineno, 'Unexpected continuation line', line);
      (pending as { parts: string[] }).parts.push(line.trimStart());
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) throw new IniParseError(filename, lineno, 'Invalid section (must end with ])', line);
      if (line.length <= 2) throw new IniParseError(filename, lineno, 'Empty section name', line);
      section = line.slice(1, -1);
      const g = normalizeGroupName(section);
      if (!groups.includes(g)) groups.push(g);
    } else if (line.startsWith('#') || line.startsWith(';')) {
      // comment
    } else {
      const kv = splitKeyValue(line);
      if (!kv) throw new IniParseError(filename, lineno, "No ':' or '=' found in assignment", line);
      if (kv.key === '') throw new IniParseError(filename, lineno, 'Key cannot be empty', line);
      pending = { key: kv.key, parts: [kv.value], line: lineno, text: line };
    }
  }
  flush();
  return { filename, assignments, groups };
}

/** Last assignment of `key` in normalized `group` (oslo: repeated key → last wins), or undefined. */
export function lookupIni(doc: IniDocument, group: string, key: string): IniAssignment | undefined {
  const g = normalizeGroupName(group);
  for (let i = doc.assignments.length - 1; i >= 0; i--) {
    const a = doc.assignments[i]!;
    if (a.group === g && a.key === key) return a;
  }
  return undefined;
}
