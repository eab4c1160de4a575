// The schedule section: calls are allowed only inside a weekly time window, read on the wall clock
// of an IANA time zone (so "08:00 Europe/Berlin" follows daylight saving time).
//
// Rules:
// - `days` absent means every day; `hours` absent means the whole day; `timezone` absent means UTC.
// - hours.start is inclusive and hours.end exclusive, to the minute: 08:00-20:00 admits 19:59:59
//   and refuses 20:00:00.
// - A window with end before start crosses midnight and belongs to the day it starts on:
//   `days: [Fri], hours: 22:00-06:00` is Friday 22:00 to Saturday 06:00. So the evening part
//   (from start to midnight) counts on a listed day, and the morning part (midnight to end) on
//   the day after a listed day. Saturday 05:00 is inside; Friday 05:00 is not (unless Thursday is listed).
// - Local times that daylight saving skips never occur; those it repeats occur twice. Both follow
//   from reading the wall clock, which is what people who write schedules mean.
import { DAYS, policyKey, type Day, type ScheduleSpec } from '../../api/index.js';
import type { Check } from './pipeline.js';
import type { Verdict } from './verdict.js';

interface LocalTime {
  day: Day;
  /** Minutes since local midnight. */
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone (validation rejects those before a policy loads).
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (formatters.size > 1000) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** The weekday and minute of day on the wall clock of a time zone. */
/** The last answer per time zone: zone offsets change on minute boundaries, so one per minute will do. */
const lastLocal = new Map<string, { epochMinute: number; local: LocalTime }>();

/**
 * Weekday and minute of the day in a time zone. formatToParts is the costliest step of the whole
 * policy pipeline (~12 µs), so the answer is reused within the same minute.
 */
export function localTime(now: Date, timeZone: string): LocalTime {
  const epochMinute = Math.floor(now.getTime() / 60_000);
  const cached = lastLocal.get(timeZone);
  if (cached?.epochMinute === epochMinute) return cached.local;
  const local = computeLocalTime(now, timeZone);
  if (lastLocal.size > 1_000) lastLocal.clear();
  lastLocal.set(timeZone, { epochMinute, local });
  return local;
}

function computeLocalTime(now: Date, timeZone: string): LocalTime {
  let day: string | undefined;
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') day = part.value;
    else if (part.type === 'hour') hour = Number(part.value) % 24; // some ICU versions say 24 for midnight
    else if (part.type === 'minute') minute = Number(part.value);
  }
  if (!DAYS.includes(day as Day)) throw new Error(`unexpected weekday ${String(day)}`);
  return { day: day as Day, minute: hour * 60 + minute };
}

/** "HH:MM" as minutes since midnight. */
function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

function dayBefore(day: Day): Day {
  return DAYS[(DAYS.indexOf(day) + DAYS.length - 1) % DAYS.length]!;
}

/**
 * Is `now` inside the schedule's window? An unknown time zone counts as outside (fail closed);
 * validation rejects those, so it only happens if this runtime's ICU lacks a zone.
 */
export function inWindow(schedule: ScheduleSpec, now: Date): boolean {
  let local: LocalTime;
  try {
    local = localTime(now, schedule.timezone ?? 'UTC');
  } catch {
    return false;
  }
  const onDay = (d: Day): boolean => !schedule.days || schedule.days.includes(d);
  const hours = schedule.hours;
  if (!hours) return onDay(local.day);
  const start = minutes(hours.start);
  const end = minutes(hours.end);
  if (start <= end) return onDay(local.day) && local.minute >= start && local.minute < end;
  // Crosses midnight: the evening part belongs to today, the morning part to yesterday's window.
  if (local.minute >= start) return onDay(local.day);
  if (local.minute < end) return onDay(dayBefore(local.day));
  return false;
}

/** "Mon-Fri", "Mon,Wed,Fri", "Sat,Sun": listed days in week order, runs of three or more joined. */
function describeDays(days: readonly Day[]): string {
  const listed = DAYS.filter((d) => days.includes(d));
  const parts: string[] = [];
  for (let i = 0; i < listed.length; ) {
    let j = i;
    while (j + 1 < listed.length && DAYS.indexOf(listed[j + 1]!) === DAYS.indexOf(listed[j]!) + 1) j++;
    if (j - i >= 2) parts.push(`${listed[i]}-${listed[j]}`);
    else parts.push(...listed.slice(i, j + 1));
    i = j + 1;
  }
  return parts.join(',');
}

/** The window in words, e.g. "Mon-Fri 08:00-20:00 Europe/Berlin". */
export function describeSchedule(schedule: ScheduleSpec): string {
  const parts: string[] = [];
  if (schedule.days && DAYS.some((d) => !schedule.days!.includes(d))) parts.push(schedule.days.length === 0 ? 'no days' : describeDays(schedule.days));
  if (schedule.hours) parts.push(`${schedule.hours.start}-${schedule.hours.end}`);
  parts.push(schedule.timezone ?? 'UTC');
  return parts.join(' ');
}

/** The deny verdict for a call outside a schedule; `what` narrows it, e.g. "for egress to x.com". */
export function outsideSchedule(schedule: ScheduleSpec, policy: string, what = ''): Verdict {
  return {
    decision: 'deny',
    rule: 'schedule',
    policy,
    reason: `outside the allowed schedule${what ? ` ${what}` : ''} (${describeSchedule(schedule)})`,
  };
}

/** spec.schedule: outside the window every call is denied. */
export const scheduleCheck: Check = {
  section: 'schedule',
  request(_call, policy, ctx) {
    const schedule = policy.spec.schedule;
    if (!schedule || inWindow(schedule, ctx.now)) return undefined;
    return outsideSchedule(schedule, policyKey(policy));
  },
};
