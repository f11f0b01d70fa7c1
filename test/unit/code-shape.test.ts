// The shape the code keeps so that a newcomer can read it (issue 9): agent modules small enough to
// hold in one's head, no source file over 600 lines, and a function over 80 lines only with the
// reason written in the comment above it ("… over 80 lines …"). Reads the TypeScript sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}
const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

test('no module of src/agent is over 400 lines, no source file over 600', () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, `expected the sources under ${SRC}`);
  const over = files.flatMap((f) => {
    const n = lineCount(readFileSync(f, 'utf8'));
    const limit = relative(SRC, f).startsWith('agent/') ? 400 : 600;
    return n > limit ? [`${relative(ROOT, f)}: ${n} lines (limit ${limit})`] : [];
  });
  assert.deepEqual(over, []);
});

/** Functions and methods over `max` lines whose leading comment does not say why. */
function longFunctions(file: string, text: string, max: number): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart()).line;
      const last = sf.getLineAndCharacterOfPosition(n.end).line;
      const leading = text.slice(n.getFullStart(), n.getStart());
      if (last - first + 1 > max && !/over 80 lines/i.test(leading)) {
        const name = ts.isVariableDeclaration(n.parent) ? n.parent.name.getText() : (n.name?.getText() ?? '<anonymous>');
        found.push(`${file}:${first + 1} ${name}: ${last - first + 1} lines`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

test('no function is over 80 lines without the reason written above it', () => {
  const long = sources(SRC).flatMap((f) => longFunctions(relative(ROOT, f), readFileSync(f, 'utf8'), 80));
  assert.deepEqual(long, []);
});

test('the long-function check finds a long function and accepts a stated reason', () => {
  const body = Array.from({ length: 85 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  assert.equal(longFunctions('x.ts', `function big(): void {\n${body}\n}\n`, 80).length, 1);
  assert.equal(longFunctions('x.ts', `/** Over 80 lines: one table. */\nfunction big(): void {\n${body}\n}\n`, 80).length, 0);
});
