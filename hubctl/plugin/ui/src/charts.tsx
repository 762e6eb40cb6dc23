import { BarChart, LineChart } from "chartist";
import { useEffect, useRef } from "react";

/** A DAG run hub_monitor recorded (hub.monitored_runs), as api/markets/{group}/runs sends it. */
export type Run = {
  dag_id: string; run_id: string; state: string; start_date: string | null; end_date: string | null;
  duration_seconds: number | null;
};

// Chartist draws SVG elements with its own classes (ct-line, ct-point, ct-bar, ct-grid,
// ct-label); its stylesheet is not used: these rules colour them with Airflow's semantic tokens,
// which switch with Airflow's light and dark mode.
export const CHART_CSS = {
  "& .hub-chart": { height: "160px", width: "100%" },
  "& .hub-chart svg": { display: "block" },
  "& .hub-chart .ct-grid": { stroke: "border", strokeWidth: "1px", strokeDasharray: "2px" },
  "& .hub-chart .ct-label": { fill: "fg.muted", color: "fg.muted", fontSize: "xs", lineHeight: 1, display: "flex", whiteSpace: "nowrap" },
  "& .hub-chart .ct-label.ct-vertical": { alignItems: "flex-end", justifyContent: "flex-end", textAlign: "right" },
  "& .hub-chart .ct-line": { fill: "none", stroke: "blue.solid", strokeWidth: "2px" },
  "& .hub-chart .ct-area": { display: "none" },
  "& .hub-chart .ct-point": { stroke: "fg.success", strokeWidth: "8px", strokeLinecap: "round" },
  "& .hub-chart .ct-bar": { stroke: "fg.success", strokeWidth: "8px" },
  "& .hub-chart .hub-failed": { stroke: "fg.error" },
};

const failed = (run: Run) => run.state !== "success";

/** Point k: the share of successful runs among the first k + 1 shown, in %; the last point is
 * the success rate over the whole window (what the failure_rate rule measures over its N). */
export function runningSuccessRate(runs: Run[]): number[] {
  let ok = 0;
  return runs.map((run, index) => {
    ok += failed(run) ? 0 : 1;
    return Math.round((1000 * ok) / (index + 1)) / 10;
  });
}

/** The unit a duration axis counts in: seconds, minutes or hours, after the longest run, so the
 * chart's own tick choice gives round numbers of it (0, 1, 2 … 5 min; not 50 s, 100 s …). */
export function durationUnit(seconds: number[]): { size: number; suffix: string } {
  const longest = Math.max(0, ...seconds);
  return longest < 120 ? { size: 1, suffix: "s" } : longest < 7200 ? { size: 60, suffix: " min" } : { size: 3600, suffix: " h" };
}

type Drawn = { type: string; index?: number; element: { addClass: (name: string) => unknown; attr: (a: Record<string, string>) => unknown } };

/** Marks each drawn point or bar with its run: class hub-failed when it did not succeed, and its
 * run id and state as attributes (hover title, tests). */
function markRuns(runs: Run[]) {
  return (data: Drawn) => {
    if ((data.type !== "point" && data.type !== "bar") || data.index === undefined) return;
    const run = runs[data.index];
    if (!run) return;
    if (failed(run)) data.element.addClass("hub-failed");
    data.element.attr({ "data-run": `${run.dag_id} ${run.run_id}`, "data-state": run.state });
  };
}

const AXIS_X = { showLabel: false, showGrid: false, offset: 4 };
const PADDING = { top: 14, right: 8, bottom: 0, left: 0 }; // room for the top tick's label

export function SuccessRateChart({ runs }: { runs: Run[] }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!element.current) return;
    const chart = new LineChart(element.current, { series: [runningSuccessRate(runs)] }, {
      low: 0, high: 100, showArea: false, fullWidth: true, lineSmooth: false, chartPadding: PADDING,
      axisX: AXIS_X, axisY: { onlyInteger: true, offset: 48, labelInterpolationFnc: (value: unknown) => `${String(value)}%` },
    });
    chart.on("draw", markRuns(runs));
    return () => { chart.detach(); };
  }, [runs]);
  return <div ref={element} className="hub-chart success-rate" data-runs={runs.length} role="img" aria-label="success rate over the runs shown" />;
}

export function DurationChart({ runs }: { runs: Run[] }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!element.current) return;
    const seconds = runs.map((run) => run.duration_seconds ?? 0);
    const unit = durationUnit(seconds);
    const chart = new BarChart(element.current, { series: [seconds.map((value) => value / unit.size)] }, {
      low: 0, chartPadding: PADDING, axisX: AXIS_X,
      axisY: { offset: 56, labelInterpolationFnc: (value: unknown) => `${String(value)}${unit.suffix}` },
    });
    chart.on("draw", markRuns(runs));
    return () => { chart.detach(); };
  }, [runs]);
  return <div ref={element} className="hub-chart durations" data-runs={runs.length} role="img" aria-label="run durations" />;
}
