/**
 * The exact text of one member of a JSON object, so that a payload's `data` reaches browsers as
 * its publisher wrote it (as the Go eventrail passes it on): parsing and serialising it again
 * would round integers past 2^53 (Go int64 ids), respell numbers and drop escapes.
 */

/** JSON's whitespace: space, tab, LF, CR. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

/** The index after the string that opens at `at` (a `"`), or -1 when it does not close. */
function stringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 34 /* " */) return i + 1;
  }
  return -1;
}

/** The index after the value that starts at `at`, or -1 when it does not end. */
function valueEnd(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let i = at; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i) - 1;
        if (i < 0) return -1;
      } else if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = at;
  while (i < text.length && !',}] \t\n\r'.includes(text[i] ?? '')) i++;
  return i > at ? i : -1;
}

/**
 * The text of the member `name` of the JSON object `text` (the last one when it is repeated, as
 * `JSON.parse` reads it), or `undefined` when there is none. `text` must be a JSON object that
 * `JSON.parse` accepted, starting with `{`; anything unexpected also gives `undefined`.
 */
export function rawMember(text: string, name: string): string | undefined {
  let found: string | undefined;
  let i = skipSpace(text, 1);
  while (text[i] === '"') {
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return undefined;
    const key = text.slice(i, keyEnd);
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') return undefined;
    const start = skipSpace(text, i + 1);
    const end = valueEnd(text, start);
    if (end < 0) return undefined;
    if (key === `"${name}"` || (key.includes('\\') && JSON.parse(key) === name)) {
      found = text.slice(start, end);
    }
    i = skipSpace(text, end);
    if (text[i] !== ',') break;
    i = skipSpace(text, i + 1);
  }
  return text[i] === '}' ? found : undefined;
}
