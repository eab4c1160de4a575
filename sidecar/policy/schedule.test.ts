import { describe, expect, it } from 'vitest';
import { type ScheduleSpec } from '../../api/index.js';
import type { Call } from '../call.js';
import { Pipeline } from './pipeline.js';
import { describeSchedule, inWindow, localTime, scheduleCheck } from './schedule.js';
import { testPolicy } from './testing.js';

const WORKDAYS: ScheduleSpec = { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], hours: { start: '08:00', end: '20:00' }, timezone: 'Europe/Berlin' };

describe('localTime', () => {
  it('reads weekday and minute on the zone wall clock', () => {
    expect(localTime(new Date('2024-01-19T23:30:00Z'), 'Europe/Berlin')).toEqual({ day: 'Sat', minute: 30 });
    expect(localTime(new Date('2024-01-19T23:30:00Z'), 'UTC')).toEqual({ day: 'Fri', minute: 23 * 60 + 30 });
    expect(localTime(new Date('2024-01-15T00:00:00Z'), 'UTC')).toEqual({ day: 'Mon', minute: 0 });
    expect(localTime(new Date('2024-01-15T02:30:00Z'), 'Asia/Kolkata')).toEqual({ day: 'Mon', minute: 8 * 60 });
  });
});

describe('inWindow', () => {
  const cases: Array<[string, ScheduleSpec, string, boolean]> = [
    // Mon-Fri 08:00-20:00 Berlin: CET (UTC+1) in winter, CEST (UTC+2) in summer.
    ['winter start, inclusive', WORKDAYS, '2024-01-15T07:00:00Z', true],
    ['winter, a minute early', WORKDAYS, '2024-01-15T06:59:59Z', false],
    ['winter, last second', WORKDAYS, '2024-01-15T18:59:59Z', true],
    ['winter end, exclusive', WORKDAYS, '2024-01-15T19:00:00Z', false],
    ['summer start follows DST', WORKDAYS, '2024-07-15T06:00:00Z', true],
    ['summer, an hour before (08:00 in winter terms)', WORKDAYS, '2024-07-15T05:59:00Z', false],
    ['summer end follows DST', WORKDAYS, '2024-07-15T18:00:00Z', false],
    ['summer, 19:59 local', WORKDAYS, '2024-07-15T17:59:00Z', true],
    ['Saturday', WORKDAYS, '2024-01-13T12:00:00Z', false],
    // Day boundaries are the zone's, not UTC's.
    ['Friday 23:30 UTC is Saturday in Berlin', { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], timezone: 'Europe/Berlin' }, '2024-01-19T23:30:00Z', false],
    ['Sunday 23:30 UTC is Monday in Berlin', { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], timezone: 'Europe/Berlin' }, '2024-01-21T23:30:00Z', true],
    ['same moment in UTC is Sunday', { days: ['Mon'] }, '2024-01-21T23:30:00Z', false],
    // The DST change days themselves (Berlin, 2024-03-31 and 2024-10-27).
    ['02:00-03:00 is skipped on spring-forward: 01:59 CET', { hours: { start: '02:00', end: '03:00' }, timezone: 'Europe/Berlin' }, '2024-03-31T00:59:00Z', false],
    ['02:00-03:00 is skipped on spring-forward: 03:00 CEST', { hours: { start: '02:00', end: '03:00' }, timezone: 'Europe/Berlin' }, '2024-03-31T01:00:00Z', false],
    ['02:30 occurs twice on fall-back: CEST', { hours: { start: '02:00', end: '03:00' }, timezone: 'Europe/Berlin' }, '2024-10-27T00:30:00Z', true],
    ['02:30 occurs twice on fall-back: CET', { hours: { start: '02:00', end: '03:00' }, timezone: 'Europe/Berlin' }, '2024-10-27T01:30:00Z', true],
    ['Los Angeles PDT', { hours: { start: '09:00', end: '17:00' }, timezone: 'America/Los_Angeles' }, '2024-07-01T16:00:00Z', true],
    ['Los Angeles PST', { hours: { start: '09:00', end: '17:00' }, timezone: 'America/Los_Angeles' }, '2024-01-08T16:00:00Z', false],
    ['half-hour zone', { hours: { start: '08:00', end: '09:00' }, timezone: 'Asia/Kolkata' }, '2024-01-15T02:30:00Z', true],
    // Crossing midnight: the window belongs to the day it starts on.
    ['overnight: Friday evening', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-19T22:00:00Z', true],
    ['overnight: Friday before start', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-19T21:59:00Z', false],
    ['overnight: Saturday morning is Friday night', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-20T05:59:00Z', true],
    ['overnight: Saturday end, exclusive', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-20T06:00:00Z', false],
    ['overnight: Saturday evening is not listed', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-20T23:00:00Z', false],
    ['overnight: Friday morning belongs to Thursday', { days: ['Fri'], hours: { start: '22:00', end: '06:00' } }, '2024-01-19T05:00:00Z', false],
    ['overnight: Sunday night into Monday', { days: ['Sun'], hours: { start: '22:00', end: '06:00' } }, '2024-01-22T03:00:00Z', true],
    ['overnight every day: after midnight', { hours: { start: '22:00', end: '06:00' } }, '2024-01-17T03:00:00Z', true],
    ['overnight every day: midday', { hours: { start: '22:00', end: '06:00' } }, '2024-01-17T12:00:00Z', false],
    ['until midnight: 23:59', { hours: { start: '20:00', end: '00:00' } }, '2024-01-17T23:59:00Z', true],
    ['until midnight: 00:00', { hours: { start: '20:00', end: '00:00' } }, '2024-01-17T00:00:00Z', false],
    ['no days, no hours: always', {}, '2024-01-17T12:00:00Z', true],
    ['empty day list: never', { days: [] }, '2024-01-17T12:00:00Z', false],
    ['unknown zone fails closed', { timezone: 'Mars/Olympus' }, '2024-01-17T12:00:00Z', false],
  ];
  it.each(cases)('%s', (_name, schedule, at, want) => {
    expect(inWindow(schedule, new Date(at))).toBe(want);
  });
});

describe('describeSchedule', () => {
  it.each<[ScheduleSpec, string]>([
    [WORKDAYS, 'Mon-Fri 08:00-20:00 Europe/Berlin'],
    [{ days: ['Sun', 'Sat'] }, 'Sat,Sun UTC'],
    [{ days: ['Mon', 'Wed', 'Thu', 'Fri'], hours: { start: '22:00', end: '06:00' } }, 'Mon,Wed-Fri 22:00-06:00 UTC'],
    [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], hours: { start: '09:00', end: '17:00' } }, '09:00-17:00 UTC'],
    [{ days: [] }, 'no days UTC'],
  ])('%j → %s', (schedule, want) => {
    expect(describeSchedule(schedule)).toBe(want);
  });
});

const policy = testPolicy;

const call: Call = {
  id: '1', provider: 'openai', agent: 'a', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions',
  operation: 'chat.completions', toolsDefined: [], toolCalls: [], texts: [], stream: false,
};

describe('scheduleCheck', () => {
  let now = new Date('2024-01-13T12:00:00Z'); // Saturday
  const pipeline = new Pipeline([scheduleCheck], () => now);

  it('denies outside the window, saying which window', () => {
    now = new Date('2024-01-13T12:00:00Z');
    expect(pipeline.evaluateRequest(call, [policy({ schedule: WORKDAYS })]).final).toEqual({
      decision: 'deny', rule: 'schedule', policy: 'ns/p', reason: 'outside the allowed schedule (Mon-Fri 08:00-20:00 Europe/Berlin)',
    });
  });
  it('allows inside it', () => {
    now = new Date('2024-01-15T12:00:00Z');
    expect(pipeline.evaluateRequest(call, [policy({ schedule: WORKDAYS })]).final.decision).toBe('allow');
  });
  it('only notes it in audit mode', () => {
    now = new Date('2024-01-13T12:00:00Z');
    expect(pipeline.evaluateRequest(call, [policy({ schedule: { ...WORKDAYS, mode: 'audit' } })]).final).toMatchObject({ decision: 'audit', rule: 'schedule' });
  });
});
