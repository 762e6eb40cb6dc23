import { useCallback, useEffect, useRef, useState } from "react";

import { getJson } from "./api";

const HEAD_EVERY_MS = 2000;

type Head = { audit_id: number | null };
/** Started when the bundle loads, before React renders the page: the audit head and the open
 * tab's data, side by side (waiting for the head before asking for the data cost a round trip on
 * the first render). Each is used once. */
let early: { head: Promise<Head> | null; path: string; data: Promise<unknown> | null } | null = null;

export function startEarly(path: string): void {
  const head = getJson<Head>("api/head");
  const data = getJson<unknown>(path);
  data.catch(() => undefined); // the tab reports the failure when it uses it
  early = { head, path, data };
}

function earlyHead(): Promise<Head> | null {
  const head = early?.head ?? null;
  if (early) early.head = null;
  return head;
}

function earlyData<T>(path: string): Promise<T> | null {
  if (!early?.data || early.path !== path) return null;
  const data = early.data as Promise<T>;
  early.data = null;
  return data;
}

type AuditHead = { head: number | null | undefined; changes: number };

/** How often the audit log's newest id has moved since its first answer (that answer is no move).
 * It is polled every 2 s while the page is visible: every writer (hubctl, raw SQL, the SQL API,
 * another tab) moves it, so a change shows within one poll and one fetch. */
export function useAuditChanges(): number {
  // head: undefined until the first answer (null: an empty log, or the first poll failed)
  const [state, setState] = useState<AuditHead>({ head: undefined, changes: 0 });
  useEffect(() => {
    let stopped = false;
    const seen = (head: number | null) =>
      setState((was) =>
        was.head === undefined ? { head, changes: 0 } : was.head === head ? was : { head, changes: was.changes + 1 },
      );
    const poll = () => {
      if (document.visibilityState !== "visible") return;
      (earlyHead() ?? getJson<Head>("api/head"))
        .then((body) => !stopped && seen(body.audit_id))
        // A missed poll is retried in 2 s; a failed first one counts as an empty log.
        .catch(() => !stopped && setState((was) => (was.head === undefined ? { head: null, changes: 0 } : was)));
    };
    poll();
    const timer = setInterval(poll, HEAD_EVERY_MS);
    document.addEventListener("visibilitychange", poll);
    return () => {
      stopped = true;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", poll);
    };
  }, []);
  return state.changes;
}

export type Polled<T> = { data: T | null; error: string | null; reload: () => void };

/** `path`'s JSON, fetched again whenever `path` or any of `triggers` changes, or on reload(). */
export function usePolled<T>(path: string, triggers: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    const early = earlyData<T>(path);
    (early ?? getJson<T>(path))
      .then((body) => {
        if (call !== latest.current) return; // an older answer arriving late
        setData(body);
        setError(null);
      })
      .catch((failure: Error) => call === latest.current && setError(failure.message));
    if (!early) return;
    // The early data was read beside the head, maybe before a change the head already counts:
    // read it once more at the next poll, so such a change still shows within one poll.
    const again = setTimeout(() => setTick((n) => n + 1), HEAD_EVERY_MS);
    return () => clearTimeout(again);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, tick, ...triggers]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}
