/** A plain SVG bar chart, written by hand: one panel per metric, one horizontal bar per system. */

export interface Panel {
  title: string;
  /** Formats a value for its label. */
  format: (value: number) => string;
  bars: { label: string; value: number | null; highlight: boolean }[];
}

const WIDTH = 760;
const LABEL_W = 210;
const BAR_H = 18;
const GAP = 6;
const PAD = 16;

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChart(title: string, subtitle: string, panels: Panel[]): string {
  const out: string[] = [];
  let y = PAD + 18;
  out.push(`<text x="${PAD}" y="${y}" font-size="16" font-weight="bold">${esc(title)}</text>`);
  y += 18;
  out.push(`<text x="${PAD}" y="${y}" font-size="11" fill="#555">${esc(subtitle)}</text>`);
  y += 14;
  for (const panel of panels) {
    y += 18;
    out.push(
      `<text x="${PAD}" y="${y}" font-size="13" font-weight="bold">${esc(panel.title)}</text>`,
    );
    y += 8;
    const max = Math.max(1e-9, ...panel.bars.map((b) => b.value ?? 0));
    const room = WIDTH - LABEL_W - PAD - 90;
    for (const bar of panel.bars) {
      const w = bar.value === null ? 0 : Math.max(1, (bar.value / max) * room);
      const color = bar.highlight ? '#2f6fdd' : '#9aa5b1';
      const text = bar.value === null ? 'n/a' : panel.format(bar.value);
      out.push(
        `<text x="${LABEL_W - 8}" y="${y + 13}" font-size="12" text-anchor="end">${esc(bar.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`,
        `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + 13}" font-size="12">${esc(text)}</text>`,
      );
      y += BAR_H + GAP;
    }
  }
  const height = y + PAD;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
