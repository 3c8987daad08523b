import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FailedCalls, OUTAGE_QUIET_MS, OutageLog } from '../../src/l2/outage.js';
import { captureLogger } from '../support/logs.js';

const MESSAGES = { start: 'down', still: 'still down', end: 'back' };

function outage() {
  const logger = captureLogger();
  const calls = new FailedCalls();
  const log = new OutageLog(
    logger,
    { redis: 'redis://test' },
    { mark: () => calls.snapshot(), since: (mark) => ({ failedCalls: calls.since(mark) }) },
    MESSAGES,
  );
  const lines = () => logger.lines.map((l) => `${l.level} ${l.msg}`);
  return { logger, calls, log, lines };
}

describe('OutageLog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('an outage logs a warning when it starts and one line when it ends, with the calls that failed meanwhile', () => {
    const { log, calls, logger, lines } = outage();
    calls.note('get');
    log.down('ECONNREFUSED');
    log.down('again');
    for (let i = 0; i < 1000; i++) calls.note(i % 2 ? 'get' : 'set');
    calls.note('invalidateTags');
    vi.advanceTimersByTime(2500);
    log.up();
    log.up();
    expect(lines()).toEqual(['warn down', 'info back']);
    expect(logger.lines[0]!.fields).toEqual({ redis: 'redis://test', err: 'ECONNREFUSED' });
    expect(logger.lines[1]!.fields).toEqual({
      redis: 'redis://test',
      lastedMs: 2500,
      failedCalls: { get: 500, set: 500, invalidateTags: 1 },
    });
  });

  it('a long outage is recalled after 10 s, then after 20 s, 40 s…: a handful of lines in ten minutes', () => {
    const { log, lines } = outage();
    log.down();
    vi.advanceTimersByTime(OUTAGE_QUIET_MS - 1);
    expect(lines()).toEqual(['warn down']);
    vi.advanceTimersByTime(1);
    expect(lines()).toEqual(['warn down', 'warn still down']);
    vi.advanceTimersByTime(10 * 60_000);
    log.up();
    // reminders at 10, 30, 70, 150, 310 s
    expect(lines()).toEqual(['warn down', ...Array(5).fill('warn still down'), 'info back']);
  });

  it('an outage that flaps is not announced again within 10 s: its episodes are folded into the next line', () => {
    const { log, logger, lines } = outage();
    log.down();
    vi.advanceTimersByTime(300);
    log.up();
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(100);
      log.down();
      vi.advanceTimersByTime(100);
      log.up();
    }
    expect(lines()).toEqual(['warn down', 'info back']);
    vi.advanceTimersByTime(OUTAGE_QUIET_MS);
    expect(lines()).toEqual(['warn down', 'info back', 'info back']);
    expect(logger.lines[2]!.fields).toMatchObject({ episodes: 20 });
    // a quiet period later, a new outage is announced at once
    vi.advanceTimersByTime(OUTAGE_QUIET_MS);
    log.down();
    expect(lines().at(-1)).toBe('warn down');
  });

  it('an outage that comes back within 10 s and lasts is announced when the quiet period ends', () => {
    const { log, logger, lines } = outage();
    log.down();
    log.up();
    vi.advanceTimersByTime(1000);
    log.down();
    expect(lines()).toEqual(['warn down', 'info back']);
    vi.advanceTimersByTime(OUTAGE_QUIET_MS);
    expect(lines()).toEqual(['warn down', 'info back', 'warn down']);
    vi.advanceTimersByTime(1000);
    log.up();
    vi.advanceTimersByTime(OUTAGE_QUIET_MS);
    expect(lines()).toEqual(['warn down', 'info back', 'warn down', 'info back']);
    expect(logger.lines[3]!.fields).toMatchObject({ lastedMs: 11_000 });
  });

  it('close() stops the reminders', () => {
    const { log, lines } = outage();
    log.down();
    log.close();
    vi.advanceTimersByTime(60_000);
    expect(lines()).toEqual(['warn down']);
  });
});
