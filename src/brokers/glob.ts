/**
 * Redis glob matching (`*`, `?`, `[abc]`, `[^a-z]`, `\x`) for brokers that do not have Redis to
 * do it for them. This is a port of Redis' own `stringmatchlen()` (src/util.c), so it gives the
 * answers Redis gives, edge cases included: it works on UTF-8 bytes (`?` matches one byte, not one
 * character), `*` needs at least one byte (`*` does not match the empty channel), `[]` is an empty
 * class, reversed ranges (`[z-a]`) are swapped, and an unclosed `[` runs to the end of the pattern.
 * Compiled patterns are cached: a process sees few distinct patterns.
 */
type Matcher = (channel: string) => boolean;

const cache = new Map<string, Matcher>();
const CACHE_LIMIT = 10_000;
const encoder = new TextEncoder();

const STAR = 0x2a; // *
const QUESTION = 0x3f; // ?
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const CARET = 0x5e; // ^
const BACKSLASH = 0x5c; // \
const DASH = 0x2d; // -

/** Redis gives up on patterns that recurse deeper than this (CVE-2022-36021). */
const MAX_NESTING = 1000;

/** `bytes[i]`, or 0 past the end, like the NUL terminator C reads there. */
function at(bytes: Uint8Array, i: number): number {
  return i < bytes.length ? (bytes[i] as number) : 0;
}

interface State {
  skipLongerMatches: boolean;
}

// A line-by-line port of stringmatchlen_impl (nocase = 0): `p`/`s` are the C pointers, the
// remaining lengths are `pattern.length - p` and `string.length - s`.
function matchBytes(
  pattern: Uint8Array,
  pStart: number,
  string: Uint8Array,
  sStart: number,
  state: State,
  nesting: number,
): boolean {
  if (nesting > MAX_NESTING) return false;
  let p = pStart;
  let s = sStart;
  while (p < pattern.length && s < string.length) {
    switch (at(pattern, p)) {
      case STAR: {
        while (p < pattern.length && at(pattern, p + 1) === STAR) p++;
        if (pattern.length - p === 1) return true;
        while (s < string.length) {
          if (matchBytes(pattern, p + 1, string, s, state, nesting + 1)) return true;
          if (state.skipLongerMatches) return false;
          s++;
        }
        // The rest of the pattern matches nowhere in the rest of the string: an earlier `*`
        // cannot help by matching more.
        state.skipLongerMatches = true;
        return false;
      }
      case QUESTION:
        s++;
        break;
      case OPEN: {
        p++;
        const not = at(pattern, p) === CARET;
        if (not) p++;
        let match = false;
        const c = at(string, s);
        for (;;) {
          const remaining = pattern.length - p;
          if (at(pattern, p) === BACKSLASH && remaining >= 2) {
            p++;
            if (at(pattern, p) === c) match = true;
          } else if (at(pattern, p) === CLOSE) {
            break;
          } else if (remaining === 0) {
            p--;
            break;
          } else if (remaining >= 3 && at(pattern, p + 1) === DASH) {
            let start = at(pattern, p);
            let end = at(pattern, p + 2);
            if (start > end) [start, end] = [end, start];
            p += 2;
            if (c >= start && c <= end) match = true;
          } else if (at(pattern, p) === c) {
            match = true;
          }
          p++;
        }
        if (not) match = !match;
        if (!match) return false;
        s++;
        break;
      }
      default:
        // `\x` compares `x` literally; a trailing `\` is itself literal.
        if (at(pattern, p) === BACKSLASH && pattern.length - p >= 2) p++;
        if (at(pattern, p) !== at(string, s)) return false;
        s++;
        break;
    }
    p++;
    if (s === string.length) {
      while (at(pattern, p) === STAR && p < pattern.length) p++;
      break;
    }
  }
  return p === pattern.length && s === string.length;
}

const SPECIAL = /[*?[\\]/;

function compile(pattern: string): Matcher {
  // Fast paths for what eventrail subscribes: a literal, or a literal followed by `*`.
  if (!SPECIAL.test(pattern)) return (channel) => channel === pattern;
  const stars = /\*+$/.exec(pattern);
  if (stars !== null) {
    const literal = pattern.slice(0, stars.index);
    if (!SPECIAL.test(literal)) {
      // `*` alone needs one byte; `gym:1:*` matches `gym:1:` (trailing stars match nothing).
      return literal === ''
        ? (channel) => channel.length > 0
        : (channel) => channel.startsWith(literal);
    }
  }
  const bytes = encoder.encode(pattern);
  return (channel) =>
    matchBytes(bytes, 0, encoder.encode(channel), 0, { skipLongerMatches: false }, 0);
}

/** True when `channel` matches the Redis glob `pattern`, exactly as Redis decides it. */
export function globMatch(pattern: string, channel: string): boolean {
  let matcher = cache.get(pattern);
  if (matcher === undefined) {
    matcher = compile(pattern);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, matcher);
  }
  return matcher(channel);
}
