import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { parseAllDocuments, parse } from 'yaml';

export const REPO = join(__dirname, '..', '..');

/** One Kubernetes object as kustomize renders it (spec left loose: the tests read what they check). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

/** Throws, naming what to install, when kubectl is not on the PATH. */
export function requireKubectl(): void {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(
      'kubectl is needed to render deploy/kubernetes (`kubectl kustomize`), and it is not on the PATH: install kubectl 1.27 or later',
    );
}

/** `kubectl kustomize deploy/kubernetes/<dir>`, parsed. */
export function renderKustomization(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', join(REPO, 'deploy', 'kubernetes', dir)], {
    encoding: 'utf8',
  });
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`${dir} rendered invalid YAML: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  });
}

/** The compose file as compose reads it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
export function readComposeFile(): {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
} {
  return parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true });
}

export interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/** The services `docker compose --profile <profile> up` starts: those without profiles, and its own. */
export function servicesOfProfile(
  services: Record<string, ComposeService>,
  profile: string | null,
): string[] {
  return Object.entries(services)
    .filter(([, s]) => !s.profiles || (profile !== null && s.profiles.includes(profile)))
    .map(([name]) => name);
}

/** The compose validators on this machine: the v2 plugin, the v1 command, or none. */
export function composeValidator(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const probe = spawnSync(cmd[0], [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return cmd;
  }
  return null;
}

/** A Dockerfile's stages: the FROM line's name (or index) and its instructions, in order. */
export function dockerfileStages(text: string): { name: string; instructions: string[] }[] {
  const instructions = text
    .replace(/\\\n/g, ' ') // continuation lines
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { name: string; instructions: string[] }[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1] ?? String(stages.length), instructions: [] });
    else if (stages.length) stages[stages.length - 1].instructions.push(line);
  }
  return stages;
}

/**
 * The TypeScript files webpack bundles into dist/apps: apps and libs, without tests. The web
 * console (apps/console) is left out: Vite bundles its packages into static files.
 */
export function runtimeSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist'].includes(entry.name)) walk(path);
      } else if (entry.name.endsWith('.ts') && !/\.(spec|d)\.ts$/.test(entry.name))
        files.push(path);
    }
  };
  for (const root of ['apps', 'libs'])
    for (const entry of readdirSync(join(REPO, root), { withFileTypes: true }))
      if (entry.isDirectory() && !(root === 'apps' && entry.name === 'console'))
        walk(join(REPO, root, entry.name));
  return files;
}

/** Module specifiers a file loads when it runs: imports and re-exports that are not type-only, require() and import(). */
export function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.ES2022,
    true,
  );
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      const bindings = node.importClause?.namedBindings;
      const allTypes =
        bindings &&
        ts.isNamedImports(bindings) &&
        !node.importClause?.name &&
        bindings.elements.length > 0 &&
        bindings.elements.every((e) => e.isTypeOnly);
      if (!allTypes && ts.isStringLiteral(node.moduleSpecifier))
        found.push(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      !node.isTypeOnly &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}
