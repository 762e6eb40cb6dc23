import { createContext, useEffect, useState } from "react";

// Airflow's UI keeps the chosen zone in localStorage["timezone"], JSON-encoded (usehooks-ts), and
// fires a "local-storage" event in the same tab when its picker changes it.
const KEY = "timezone";

export function storedTimezone(): string {
  try {
    const raw = localStorage.getItem(KEY);
    // JSON-encoded by usehooks-ts; a plain zone name is accepted too.
    const zone = raw === null ? "UTC" : raw.startsWith('"') ? (JSON.parse(raw) as unknown) : raw;
    if (typeof zone !== "string") return "UTC";
    new Intl.DateTimeFormat("en", { timeZone: zone }); // throws RangeError on an unknown zone
    return zone;
  } catch {
    return "UTC";
  }
}

export function useTimezone(): string {
  const [zone, setZone] = useState(storedTimezone);
  useEffect(() => {
    const update = () => setZone(storedTimezone());
    globalThis.addEventListener("storage", update);
    globalThis.addEventListener("local-storage", update);
    return () => {
      globalThis.removeEventListener("storage", update);
      globalThis.removeEventListener("local-storage", update);
    };
  }, []);
  return zone;
}

/** The zone the page shows times in: the page reads it once (useTimezone) for every time shown. */
export const Zone = createContext("UTC");

// One formatter per zone: building an Intl.DateTimeFormat costs far more than formatting with it,
// and a History page formats a hundred times.
const formatters = new Map<string, Intl.DateTimeFormat>();

// dateStyle cannot be combined with timeZoneName (TypeError): spell the fields out.
// "2026-12-07 08:00:00 GMT+9" (west of UTC Intl prints U+2212: "GMT−5").
export function formatTime(iso: string, zone: string): string {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("sv-SE", {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23", timeZone: zone, timeZoneName: "short",
    });
    formatters.set(zone, format);
  }
  return format.format(new Date(iso));
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60],
];

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function relativeTime(iso: string, now: number = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const format = relative;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds), "second");
}
