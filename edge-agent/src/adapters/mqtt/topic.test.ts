import { describe, expect, it } from 'vitest';
import { compileFilter } from './topic.js';

describe('compileFilter', () => {
  it('matches exact topics and single-level wildcards level by level', () => {
    const f = compileFilter('plant/+/temp');
    expect(f.matches('plant/line1/temp')).toBe(true);
    expect(f.matches('plant/line1/press')).toBe(false);
    expect(f.matches('plant/line1/x/temp')).toBe(false);
    expect(f.matches('plant/temp')).toBe(false);
    expect(compileFilter('a/b').matches('a/b')).toBe(true);
  });

  it('matches any remaining levels with a trailing hash, including none', () => {
    const f = compileFilter('plant/line1/#');
    expect(f.matches('plant/line1')).toBe(true);
    expect(f.matches('plant/line1/a/b/c')).toBe(true);
    expect(f.matches('plant/line2/a')).toBe(false);
  });

  it('keeps leading wildcards away from $-topics', () => {
    expect(compileFilter('#').matches('$SYS/broker/uptime')).toBe(false);
    expect(compileFilter('+/broker/uptime').matches('$SYS/broker/uptime')).toBe(false);
    expect(compileFilter('$SYS/#').matches('$SYS/broker/uptime')).toBe(true);
  });

  it('rejects malformed filters', () => {
    expect(() => compileFilter('a/#/b')).toThrow(RangeError);
    expect(() => compileFilter('a/b+')).toThrow(RangeError);
  });
});
