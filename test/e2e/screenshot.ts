/** Composes two page screenshots side by side into one PNG, rendered by the browser itself. */
import type { Browser } from 'playwright-core';

export interface Panel {
  readonly png: Buffer;
  readonly caption: string;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );

export async function sideBySide(
  browser: Browser,
  panels: readonly Panel[],
  size: { width: number; height: number },
): Promise<Buffer> {
  const gap = 16;
  const width = panels.length * size.width + (panels.length + 1) * gap;
  const context = await browser.newContext({ viewport: { width, height: size.height + 60 } });
  try {
    const page = await context.newPage();
    const figures = panels
      .map(
        (p) => `<figure><figcaption>${escapeHtml(p.caption)}</figcaption>
          <img width="${size.width}" height="${size.height}" src="data:image/png;base64,${p.png.toString('base64')}"></figure>`,
      )
      .join('');
    await page.setContent(`<!doctype html><style>
      body { margin: 0; padding: 8px ${gap}px ${gap}px; display: flex; gap: ${gap}px; background: #d9dee5;
             font: 13px system-ui, sans-serif; color: #3b4452; }
      figure { margin: 0; } figcaption { padding: 4px 2px 6px; }
      img { display: block; border-radius: 8px; box-shadow: 0 2px 8px rgb(0 0 0 / 0.15); }
    </style>${figures}`);
    await page.waitForFunction(() => [...document.images].every((img) => img.complete));
    return await page.screenshot({ fullPage: true });
  } finally {
    await context.close();
  }
}
