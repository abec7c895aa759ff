import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('API reference', () => {
  it('is generated from the types by TypeDoc without errors, with a page per public function', () => {
    const root = fixture('..', '..');
    const out = join(tmp.dir, 'api');
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out, '--treatWarningsAsErrors'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/\[error\]|\[warning\]/);
    expect(r.status).toBe(0);
    for (const page of ['analyze', 'lmc', 'linearModeConnectivity', 'analyzePair', 'loadCheckpoint', 'openDataset', 'linearSumAssignment', 'interpolate']) {
      expect(existsSync(join(out, 'functions', `${page}.html`)), page).toBe(true);
    }
    expect(readFileSync(join(out, 'functions', 'analyze.html'), 'utf8')).toMatch(/LLFC, weak additivity and commutativity per layer/);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

/** The relative links of a Markdown file (outside code blocks and code spans), as [target, fragment]. */
function relativeLinks(markdown: string): [string, string][] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => {
      const [file, fragment = ''] = target.split('#');
      return [file!, fragment];
    });
}

describe('documentation links', () => {
  const root = fixture('..', '..');
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

  it.each(pages)('every relative link in %s names a file of the repository (and a heading there, for #anchors)', (page) => {
    const links = relativeLinks(readFileSync(join(root, page), 'utf8'));
    expect(links.length).toBeGreaterThan(0);
    for (const [file, fragment] of links) {
      const target = file ? resolve(root, dirname(page), file) : join(root, page);
      expect(target.startsWith(root + sep), `${page}: ${file} leaves the repository`).toBe(true);
      expect(existsSync(target), `${page}: ${file}#${fragment}`).toBe(true);
      if (fragment && target.endsWith('.md')) {
        const headings = [...readFileSync(target, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!));
        expect(headings, `${page}: ${file}#${fragment}`).toContain(fragment);
      }
    }
  });

  it.each(pages.filter((p) => p.startsWith('docs')))('every source file %s names as where a check lives exists', (page) => {
    const named = [...readFileSync(join(root, page), 'utf8').matchAll(/`((?:lib|native|scripts|schema)\/[^`\s]*)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(0);
    for (const path of named) expect(existsSync(join(root, path)), `${page}: ${path}`).toBe(true);
  });

  it('README points to the definitions page, not outside the repository', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/definitions.md)');
    expect(readme).not.toMatch(/\]\(\.\.\//);
  });
});
