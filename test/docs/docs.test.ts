/**
 * docs/ is in step with the code: every generated page (commands from the commander tree,
 * document fields from the schemas, --json shapes) equals what the generator writes now
 * (`npm run docs` rewrites them: UPDATE_DOCS=1); the examples in the document pages validate;
 * the hand-written registry protocol page lists exactly the routes the server's module head
 * lists; every relative link between the pages resolves.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateDocument } from '../../schemas/index.js';
import { documentExamples, generatedDocs } from '../../scripts/docs/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const update = process.env.UPDATE_DOCS === '1';

describe('generated docs', () => {
  const docs = generatedDocs();
  it.each(Object.keys(docs))('%s is up to date (npm run docs)', (file) => {
    const path = join(ROOT, file);
    if (update) writeFileSync(path, docs[file]!);
    expect(existsSync(path), `${file} is missing: npm run docs`).toBe(true);
    expect(readFileSync(path, 'utf8'), `${file} is stale: npm run docs`).toBe(docs[file]);
  });

  it('commands.md documents every command and option, with descriptions', () => {
    const text = docs['docs/commands.md']!;
    for (const c of ['init', 'add', 'install', 'build', 'run', 'audit', 'publish', 'info', 'search', 'yank', 'login', 'whoami', 'logout', 'config', 'doctor', 'new component', 'registry serve', 'import archives']) {
      expect(text, c).toMatch(new RegExp(`^## rumpkg ${c}$`, 'm'));
    }
    expect(text).toMatch(/\| `--registry <url>` \| ask this registry instead of the ones config.json and rumpkg.json pin \|/);
    expect(text).not.toMatch(/^\| `[^`]+` \| *\|$/m); // no argument or option without a description
  });

  it('the examples of the document pages validate against their schemas', () => {
    const examples = documentExamples();
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const { kind, example } of examples) expect(validateDocument(kind, example, { file: kind }).errors, kind).toEqual([]);
  });
});

describe('hand-written docs', () => {
  const routes = (text: string): string[] =>
    [...text.matchAll(/\b(GET|PUT|DELETE|HEAD|POST)\s+(\/[^\s`|\\]+)/g)].map((m) => `${m[1]} ${m[2]}`).sort();

  it('registry-protocol.md lists the routes rumpkg registry serve answers, no more, no fewer', () => {
    const server = readFileSync(join(ROOT, 'registry', 'server', 'server.ts'), 'utf8');
    const head = server.slice(0, server.indexOf('*/'));
    const doc = readFileSync(join(ROOT, 'docs', 'registry-protocol.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Routes'), doc.indexOf('\n## ', doc.indexOf('## Routes') + 1));
    expect(routes(section)).toEqual(routes(head));
    expect(routes(head).length).toBeGreaterThan(8);
  });

  it('every relative link between the pages of docs/ and README.md resolves', () => {
    const pages = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];
    const broken: string[] = [];
    for (const p of pages) {
      for (const m of readFileSync(p, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(resolve(dirname(p), target))) broken.push(`${p}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
