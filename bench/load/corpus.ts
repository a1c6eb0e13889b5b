// A generated text corpus for the compression scenarios: HTML, CSS, JavaScript
// and JSON, 10 KiB to 1 MiB, deterministic (a seeded PRNG), shaped like real
// files (repeated structure with varying names and numbers), so ratios are in
// the range real sites see rather than those of a repeated string.

import { seededRandom } from '../../test/fixtures/seeded-random.js';

export type CorpusKind = 'html' | 'css' | 'js' | 'json';

export const CORPUS_KINDS: readonly CorpusKind[] = ['html', 'css', 'js', 'json'];
export const CORPUS_SIZES: readonly number[] = [10 * 1024, 100 * 1024, 1024 * 1024];

export const CONTENT_TYPES: Record<CorpusKind, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'application/javascript; charset=utf-8',
  json: 'application/json',
};

const WORDS = 'cache edge origin node vary stale fresh purge slice range header body stream client server request response token layout grid panel button modal footer nav item list card image title price stock user order cart search filter sort page'.split(' ');

function pieceOf(kind: CorpusKind, r: () => number, i: number): string {
  const w = () => WORDS[Math.floor(r() * WORDS.length)]!;
  const n = () => Math.floor(r() * 10_000);
  switch (kind) {
    case 'html':
      return `<div class="${w()}-${w()} col-${i % 12}" data-id="${n()}"><h3>${w()} ${w()}</h3><p>The ${w()} ${w()} of ${w()} ${n()} and ${w()}.</p><a href="/${w()}/${n()}">${w()}</a></div>\n`;
    case 'css':
      return `.${w()}-${w()}-${i} { margin: ${n() % 40}px ${n() % 20}px; color: #${(n() % 4096).toString(16).padStart(3, '0')}; display: ${r() < 0.5 ? 'flex' : 'grid'}; }\n`;
    case 'js':
      return `export function ${w()}${i}(${w()}, ${w()}) {\n  const ${w()}Count = ${n()};\n  if (${w()} > ${w()}Count) return ${w()}.map((x) => x * ${n() % 100});\n  return null;\n}\n`;
    case 'json':
      return `{"id":${n()},"name":"${w()} ${w()}","tags":["${w()}","${w()}"],"price":${(n() / 100).toFixed(2)},"stock":${n() % 500},"active":${r() < 0.5}},\n`;
  }
}

/** A deterministic text body of exactly `bytes` bytes. */
export function corpusBody(kind: CorpusKind, bytes: number): Buffer {
  const r = seededRandom(bytes ^ kind.length * 7919);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < bytes; i++) {
    const p = pieceOf(kind, r, i);
    parts.push(p);
    len += p.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}
