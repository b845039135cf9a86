import { describe, expect, it } from 'vitest';
import { acceleratedClock, sleep, VirtualClock } from './clock.js';

describe('VirtualClock', () => {
  it('runs due timers in time order, including ones scheduled while advancing', () => {
    const clock = new VirtualClock(0);
    const log: string[] = [];
    clock.schedule(30, () => log.push(`b@${clock.now()}`));
    clock.schedule(10, () => {
      log.push(`a@${clock.now()}`);
      clock.schedule(5, () => log.push(`c@${clock.now()}`));
    });
    const cancel = clock.schedule(20, () => log.push('never'));
    cancel();
    clock.advance(25);
    expect(log).toEqual(['a@10', 'c@15']);
    clock.advance(10);
    expect(log).toEqual(['a@10', 'c@15', 'b@30']);
    expect(clock.now()).toBe(35);
  });

  it('rejects a sleep when its signal aborts', async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    const p = sleep(clock, 1000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pending()).toBe(0);
  });
});

describe('acceleratedClock', () => {
  it('moves factor times faster than its base clock', () => {
    const base = new VirtualClock(1000);
    const fast = acceleratedClock(10, base);
    let fired = -1;
    fast.schedule(1000, () => {
      fired = fast.now();
    });
    base.advance(100);
    expect(fired).toBe(2000);
    expect(fast.now()).toBe(2000);
  });
});
