/** MQTT topic filter matching (MQTT 3.1.1 §4.7), precompiled once per filter. */

/** A compiled topic filter. */
export interface TopicFilter {
  readonly filter: string;
  matches(topic: string): boolean;
}

/**
 * Compiles `filter`; `+` matches one level, a trailing `#` any number of levels (including none).
 * Wildcards at the first level do not match topics starting with `$` (e.g. `$SYS/...`), per spec.
 * @throws RangeError when the filter is malformed (wildcards inside a level, `#` not last)
 */
export function compileFilter(filter: string): TopicFilter {
  const levels = filter.split('/');
  levels.forEach((l, i) => {
    if ((l.includes('+') && l !== '+') || (l.includes('#') && (l !== '#' || i !== levels.length - 1))) {
      throw new RangeError(`invalid MQTT topic filter "${filter}"`);
    }
  });
  return { filter, matches: (topic) => matchLevels(levels, topic.split('/')) };
}

function matchLevels(filter: string[], topic: string[]): boolean {
  if (topic[0]?.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]!;
    if (f === '#') return true;
    if (i >= topic.length) return false;
    if (f !== '+' && f !== topic[i]) return false;
  }
  return filter.length === topic.length;
}
