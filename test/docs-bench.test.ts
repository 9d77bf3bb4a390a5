/**
 * The README's benchmark paragraph says what the chart under it shows: docs/bench.svg and
 * docs/bench.md come from one run (the same date), every ratio the paragraph quotes is eventrail on
 * Redis against the bare server in one of the chart's panels, and every system it names is in the
 * chart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const read = (file: string): string => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** One panel of the chart: its title and each bar's label and printed value. */
interface Panel {
  readonly title: string;
  readonly bars: Map<string, number>;
}

/** The panels of docs/bench.svg, as bench/chart.ts writes them. */
function panels(svg: string): Panel[] {
  const result: Panel[] = [];
  const texts = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].map(([, attrs, text]) => ({
    attrs: attrs ?? '',
    text: (text ?? '').replace(/&amp;/g, '&'),
  }));
  let label: string | undefined;
  for (const { attrs, text } of texts) {
    if (attrs.includes('font-size="13"')) result.push({ title: text, bars: new Map() });
    else if (attrs.includes('text-anchor="end"')) label = text;
    else if (label !== undefined && result.length > 0) {
      (result.at(-1) as Panel).bars.set(label, Number.parseFloat(text.replace(/,/g, '')));
      label = undefined;
    }
  }
  return result;
}

/** The README's `## Benchmark` section, up to the next heading. */
function benchmarkParagraph(readme: string): string {
  const start = readme.indexOf('\n## Benchmark\n');
  assert.ok(start >= 0, 'README.md has no ## Benchmark section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

describe("README.md's benchmark paragraph and its chart", () => {
  const svg = read('docs/bench.svg');
  const chart = panels(svg);
  const text = benchmarkParagraph(read('README.md'));

  it('reads four panels from the chart, each with eventrail/redis and the floor', () => {
    assert.equal(chart.length, 4, chart.map((p) => p.title).join(' | '));
    for (const panel of chart) {
      assert.ok(panel.bars.has('eventrail/redis'), panel.title);
      assert.ok(panel.bars.has('floor (node:http)'), panel.title);
    }
  });

  it('comes from the run docs/bench.md reports', () => {
    const date = /^- Date: (\S+?);/m.exec(read('docs/bench.md'))?.[1];
    assert.ok(date, 'docs/bench.md has no date');
    assert.ok(svg.includes(date), `docs/bench.svg is not from the run of ${date}`);
    assert.ok(text.includes('docs/bench.md'), 'the paragraph does not name docs/bench.md');
  });

  it('quotes only ratios the chart shows (eventrail/redis over the floor)', () => {
    const shown = chart.map((panel) => ({
      title: panel.title,
      ratio: (panel.bars.get('eventrail/redis') ?? 0) / (panel.bars.get('floor (node:http)') ?? 1),
    }));
    const quoted = [...text.matchAll(/(\d+\.\d+)x/g)].map(([, ratio]) => Number(ratio));
    assert.ok(quoted.length >= 3, `only ${quoted.length} ratios quoted`);
    for (const ratio of quoted) {
      // The chart prints rounded values (9.4 KB): half a unit of its last digit either way.
      const match = shown.find((s) => Math.abs(s.ratio - ratio) <= 0.006 * Math.max(1, ratio));
      assert.ok(
        match,
        `the README quotes ${ratio}x, which no panel shows: ${shown.map((s) => `${s.title} ${s.ratio.toFixed(3)}x`).join('; ')}`,
      );
    }
    const memory = /(\d+\.\d+)x its idle (\w+)/.exec(text);
    assert.ok(memory, 'the paragraph names no idle memory figure');
    assert.match(
      chart[3]?.title ?? '',
      new RegExp(memory[2] === 'memory' ? 'RSS' : (memory[2] ?? ''), 'i'),
      'the idle memory figure is not the one charted',
    );
  });

  it('names only systems the chart has', () => {
    const labels = chart
      .flatMap((panel) => [...panel.bars.keys()])
      .join(' ')
      .toLowerCase();
    for (const system of ['better-sse', 'socket.io', 'node:http', 'ws', 'centrifugo']) {
      if (new RegExp(`\\b${system.replace('.', '\\.')}\\b`, 'i').test(text)) {
        assert.ok(labels.includes(system), `the paragraph names ${system}, the chart does not`);
      }
    }
  });
});
