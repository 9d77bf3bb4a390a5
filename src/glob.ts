/**
 * Redis-style glob matching (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) for brokers that do not have Redis
 * to do it for them. Compiled patterns are cached: a process sees few distinct patterns.
 */
const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 10_000;

function escapeRegExp(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char;
}

function compile(pattern: string): RegExp {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && i + 1 < pattern.length)
      source += escapeRegExp(pattern[++i] as string);
    else if (char === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      let set = '';
      for (let j = 0; j < body.length; j++) {
        const c = body[j] as string;
        if (c === '\\' && j + 1 < body.length) set += escapeRegExp(body[++j] as string);
        else if (c === '-' && j > 0 && j + 1 < body.length) set += '-';
        else set += escapeRegExp(c);
      }
      source += `[${negate ? '^' : ''}${set}]`;
      i = close;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`${source}$`);
}

/** True when `channel` matches the Redis glob `pattern`. */
export function globMatch(pattern: string, channel: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(channel);
}
