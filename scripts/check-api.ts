/**
 * Keeps the public API and its documentation in step: every declaration tagged `@public` in src/
 * must be importable from an entry point of package.json's `exports`, and everything an entry
 * point exports must be tagged `@public` (TSDoc). Run by `npm run check`; prints each mismatch.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
};

/** The source file of each entry point, by its import specifier. */
const entries = new Map<string, string>();
for (const [key, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue;
  const source = target['eventrail-src'];
  if (source === undefined) continue;
  entries.set(key === '.' ? 'eventrail' : `eventrail/${key.slice(2)}`, path.join(root, source));
}

const config = ts.getParsedCommandLineOfConfigFile(
  path.join(root, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
);
if (!config) throw new Error('cannot read tsconfig.json');
const program = ts.createProgram([...entries.values()], config.options);
const checker = program.getTypeChecker();

const isPublic = (node: ts.Node): boolean =>
  ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'public');

/** Declarations reachable from an entry point, with the specifiers that export them. */
const exported = new Map<ts.Declaration, string[]>();
const problems: string[] = [];
for (const [specifier, file] of entries) {
  const source = program.getSourceFile(file);
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) {
    problems.push(`${specifier}: ${file} is not a module`);
    continue;
  }
  for (let symbol of checker.getExportsOfModule(module)) {
    const name = symbol.getName();
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const declarations = symbol.getDeclarations() ?? [];
    for (const declaration of declarations) {
      exported.set(declaration, [...(exported.get(declaration) ?? []), specifier]);
    }
    // Overloads and merged declarations: one tagged declaration is enough.
    if (!declarations.some(isPublic)) {
      problems.push(`${specifier} exports ${name}, which is not tagged @public`);
    }
  }
}

const where = (node: ts.Node): string => {
  const file = node.getSourceFile();
  const { line } = file.getLineAndCharacterOfPosition(node.getStart());
  return `${path.relative(root, file.fileName)}:${line + 1}`;
};

for (const file of program.getSourceFiles()) {
  if (!file.fileName.startsWith(path.join(root, 'src'))) continue;
  const visit = (node: ts.Node): void => {
    if (
      (ts.isInterfaceDeclaration(node) ||
        ts.isTypeAliasDeclaration(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isClassDeclaration(node) ||
        ts.isVariableStatement(node)) &&
      isPublic(node)
    ) {
      const declarations = ts.isVariableStatement(node)
        ? node.declarationList.declarations.map((d) => d as ts.Declaration)
        : [node as ts.Declaration];
      if (!declarations.some((d) => exported.has(d))) {
        const name = declarations.map((d) => ts.getNameOfDeclaration(d)?.getText()).join(', ');
        problems.push(`${where(node)}: ${name} is tagged @public but no entry point exports it`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

if (problems.length > 0) {
  process.stderr.write(`API check: ${problems.length} problem(s)\n${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`API check: ${exported.size} public declarations, all tagged and exported\n`);
