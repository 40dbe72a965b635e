// Instance starts of ICS documents as ical.js reads them, for the corpus
// comparison (tests/fidelity). stdin: JSON [{id, ics, lo, hi}] (lo/hi: Unix
// seconds); stdout: JSON {id: {starts: [key...]} | {error: text}}.
// Keys: "D:YYYY-MM-DD" (date), "F:YYYY-MM-DDTHH:MM:SS" (floating),
// "U:YYYY-MM-DDTHH:MM:SSZ" (an instant). Cancelled instances are left out,
// as Almanac's event listing hides them.
import ICAL from "ical.js";

const MAX_PER_SERIES = 5000;

function pad(n, w = 2) { return String(n).padStart(w, "0"); }

function key(time) {
  const day = `${pad(time.year, 4)}-${pad(time.month)}-${pad(time.day)}`;
  if (time.isDate) return `D:${day}`;
  const clock = `${pad(time.hour)}:${pad(time.minute)}:${pad(time.second)}`;
  if (time.zone === ICAL.Timezone.localTimezone || !time.zone) return `F:${day}T${clock}`;
  const at = new Date(time.toUnixTime() * 1000).toISOString().slice(0, 19);
  return `U:${at}Z`;
}

function seconds(time) {
  // Dates and floating times are placed in UTC for the window test.
  if (time.zone === ICAL.Timezone.localTimezone || !time.zone || time.isDate) {
    return Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second) / 1000;
  }
  return time.toUnixTime();
}

function cancelled(component) {
  const status = component.getFirstPropertyValue("status");
  return typeof status === "string" && status.toUpperCase() === "CANCELLED";
}

function expand(ics, lo, hi) {
  ICAL.TimezoneService.reset();
  const root = new ICAL.Component(ICAL.parse(ics));
  const calendars = root.name === "vcalendar" ? [root] : root.getAllSubcomponents("vcalendar");
  const starts = [];
  for (const calendar of calendars) {
    for (const zone of calendar.getAllSubcomponents("vtimezone")) {
      ICAL.TimezoneService.register(new ICAL.Timezone(zone));
    }
    const vevents = calendar.getAllSubcomponents("vevent");
    const masters = new Map();
    const orphans = [];
    for (const vevent of vevents) {
      if (!vevent.hasProperty("recurrence-id")) {
        masters.set(vevent.getFirstPropertyValue("uid") ?? Symbol(), new ICAL.Event(vevent));
      }
    }
    for (const vevent of vevents) {
      if (!vevent.hasProperty("recurrence-id")) continue;
      const master = masters.get(vevent.getFirstPropertyValue("uid"));
      if (master) master.relateException(vevent);
      else orphans.push(new ICAL.Event(vevent));
    }
    for (const event of [...masters.values(), ...orphans]) {
      const uid = event.uid ?? "";
      if (!event.isRecurring()) {
        if (!cancelled(event.component)) starts.push(`${uid}|${key(event.startDate)}`);
        continue;
      }
      const it = event.iterator();
      for (let n = 0, next = it.next(); next && n < MAX_PER_SERIES; n++, next = it.next()) {
        // An RDATE;VALUE=PERIOD comes out of the iterator as a Period, which
        // getOccurrenceDetails does not take: its start is the occurrence.
        if (next instanceof ICAL.Period) next = next.start;
        if (seconds(next) >= hi + 3 * 86400) break;
        const details = event.getOccurrenceDetails(next);
        if (cancelled(details.item.component)) continue;
        starts.push(`${uid}|${key(details.startDate)}`);
      }
    }
  }
  return starts;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = {};
  for (const { id, ics, lo, hi } of JSON.parse(input)) {
    try {
      out[id] = { starts: expand(ics, lo, hi) };
    } catch (error) {
      out[id] = { error: String(error && error.stack ? error.stack.split("\n")[0] : error) };
    }
  }
  process.stdout.write(JSON.stringify(out));
});
