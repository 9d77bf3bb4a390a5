/**
 * Composes page screenshots side by side into one PNG, rendered by the browser itself (in a tab of
 * the rig whose driver takes screenshots: Chromium's).
 */
import { type RigPage, waitInPage } from './rig.js';

export interface Panel {
  readonly png: Buffer;
  readonly caption: string;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );

/** Renders `panels` in `page` (a blank tab) and takes its picture. */
export async function sideBySide(
  page: RigPage,
  panels: readonly Panel[],
  size: { width: number; height: number },
): Promise<Buffer> {
  if (!page.screenshot) throw new Error('this engine takes no screenshots in the rig');
  const gap = 16;
  const width = panels.length * size.width + (panels.length + 1) * gap;
  const figures = panels
    .map(
      (p) => `<figure><figcaption>${escapeHtml(p.caption)}</figcaption>
        <img width="${size.width}" height="${size.height}" src="data:image/png;base64,${p.png.toString('base64')}"></figure>`,
    )
    .join('');
  const html = `<!doctype html><style>
    body { margin: 0; padding: 8px ${gap}px ${gap}px; display: flex; gap: ${gap}px; background: #d9dee5;
           font: 13px system-ui, sans-serif; color: #3b4452; }
    figure { margin: 0; } figcaption { padding: 4px 2px 6px; }
    img { display: block; border-radius: 8px; box-shadow: 0 2px 8px rgb(0 0 0 / 0.15); }
  </style>${figures}`;
  await page.evaluate((content) => {
    document.open();
    document.write(content);
    document.close();
  }, html);
  await waitInPage(
    page,
    () => document.images.length > 0 && [...document.images].every((img) => img.complete),
    undefined,
    'the panels are drawn',
  );
  return page.screenshot({ width, height: size.height + 60 }, { fullPage: true });
}
