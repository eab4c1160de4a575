// A memo of a pure function of a string, for compiled patterns: globs come from policies and built-in
// lists, a bounded set, so the cache is simply emptied if it ever passes its limit (a runaway guard,
// not an eviction policy).
export function boundedMemo<T>(make: (key: string) => T, limit = 10_000): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = make(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, value);
    }
    return value;
  };
}
