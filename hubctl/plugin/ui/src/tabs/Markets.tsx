import { Badge, Button, Link, Stack, Table, Text } from "@chakra-ui/react";
import { Fragment, useEffect, useState } from "react";
import { Link as RouterLink } from "react-router-dom";

import { send } from "../api";
import { type Ask, Cell, ErrorNote, Grid, Note, ReasonBox, When } from "../components";
import { writtenNote } from "../forms";
import { usePolled } from "../live";
import { MarketDetail, type OpenAlert, type Thresholds } from "./MarketDetail";
import type { TabProps } from "./props";

type LastRun = { dag_id: string; run_id: string; state: string } | string | null;
type Market = {
  group: string; enabled: boolean; approvals_required?: number; dags: string[];
  last_run: LastRun; stale_sessions: number | null; calendar: string;
  paused_in_airflow: string[]; suspended_changes?: unknown[];
  last_change?: { actor: string; at: string; reason: string | null } | null;
  latest_trade_date?: string | null; open_alerts?: OpenAlert[]; thresholds?: Thresholds; version?: number | null;
};

const AIRFLOW_EVERY_MS = 30000; // Airflow's pauses and runs are not audited: refresh them slowly

const COLUMNS = [
  { title: "Group", width: "18ch" }, { title: "State", width: "11ch" }, { title: "", width: "10ch" },
  { title: "Alerts", width: "16ch" }, { title: "Last change", width: "26ch" }, { title: "DAGs", width: "24ch" },
  { title: "Last run", width: "22ch" }, { title: "Freshness", width: "16ch" },
  { title: "Paused in Airflow", width: "22ch" },
];

const DAGS_SHOWN = 8; // a market of thousands of jobs lists its first DAGs and a count

const dagLink = (dag: string) => (
  <Link asChild key={dag} display="block" truncate whiteSpace="nowrap" title={dag} data-truncate="">
    <RouterLink to={`/dags/${encodeURIComponent(dag)}`}>{dag}</RouterLink>
  </Link>
);

function RunCell({ run }: { run: LastRun }) {
  if (run && typeof run === "object") {
    const to = `/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.run_id)}`;
    const text = `${run.dag_id}: ${run.state}`;
    return <Link asChild display="block" truncate whiteSpace="nowrap" title={text} data-truncate=""><RouterLink to={to}>{text}</RouterLink></Link>;
  }
  return <Cell value={run ?? "-"} />;
}

const listed = (dags: string[]) =>
  dags.length > DAGS_SHOWN ? `${dags.slice(0, DAGS_SHOWN).join(", ")} and ${dags.length - DAGS_SHOWN} more` : dags.join(", ") || "(none)";

const freshness = (sessions: number | null) =>
  sessions === null ? "no data" : sessions === 0 ? "current" : `${sessions} session${sessions === 1 ? "" : "s"} behind`;

/** Open alerts: red while any is not silenced, yellow when all are, green with none. */
function AlertsCell({ alerts }: { alerts: OpenAlert[] }) {
  if (!alerts.length) return <Badge className="alerts" colorPalette="green" whiteSpace="nowrap">no alerts</Badge>;
  const loud = alerts.some((alert) => !alert.silenced_until);
  const rules = [...new Set(alerts.map((alert) => alert.rule))].sort().join(", ");
  return (
    <Stack gap={0} minW={0}>
      <Badge className="alerts" colorPalette={loud ? "red" : "yellow"} whiteSpace="nowrap" alignSelf="start" data-count={alerts.length}>
        {alerts.length} open{loud ? "" : ", silenced"}
      </Badge>
      <span className="hub-cell hub-muted alert-rules" title={rules}>{rules}</span>
    </Stack>
  );
}

export function Markets({ changes, canEdit, rowsShown }: TabProps) {
  const [tick, setTick] = useState(0);
  useEffect(() => { const timer = setInterval(() => setTick((n) => n + 1), AIRFLOW_EVERY_MS); return () => clearInterval(timer); }, []);
  const { data, error, reload } = usePolled<Market[]>("api/markets", [changes, tick]);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [opened, setOpened] = useState<string | null>(null); // the market whose detail is open
  useEffect(() => { if (data) rowsShown(); }, [data, rowsShown]);
  const toggle = (row: Market) => {
    const verb = row.enabled ? "Disable" : "Enable";
    setMessage(null);
    setAsk({
      question: `${verb} ${row.group}? ${row.enabled ? "Its DAGs leave" : "Its DAGs return to"} Airflow: ${listed(row.dags)}.`,
      act: async (reason) => {
        const written = await send("POST", `api/markets/${encodeURIComponent(row.group)}/enabled`, { enabled: !row.enabled, reason });
        setMessage(writtenNote(written, `${row.group} ${row.enabled ? "disabled" : "enabled"}.`));
        reload();
      },
    });
  };
  return (
    <Stack gap={2}>
      <ErrorNote text={error} />
      <Note text={message} />
      {ask ? <ReasonBox ask={ask} close={() => setAsk(null)} /> : null}
      <Grid id="markets" columns={COLUMNS}>
        {(data ?? []).map((row) => (
          <Fragment key={row.group}>
          <Table.Row data-group={row.group}>
            <Table.Cell>
              <Button className="details" size="xs" variant="ghost" px={1} maxW="100%" justifyContent="start" aria-expanded={opened === row.group}
                onClick={() => setOpened(opened === row.group ? null : row.group)} title={`${row.group}: alerts, runs and thresholds`}>
                <span aria-hidden="true">{opened === row.group ? "▾" : "▸"}</span><Cell value={row.group} />
              </Button>
            </Table.Cell>
            <Table.Cell>
              <Badge className="state" whiteSpace="nowrap" colorPalette={row.enabled ? "green" : "gray"}>{row.enabled ? "enabled" : "disabled"}</Badge>
              {row.approvals_required ? <Text fontSize="xs" color="fg.muted" whiteSpace="nowrap">protected</Text> : null}
            </Table.Cell>
            <Table.Cell>
              <Button className="toggle" size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => toggle(row)}>
                {row.enabled ? "Disable" : "Enable"}
              </Button>
            </Table.Cell>
            <Table.Cell className="alerts-cell"><AlertsCell alerts={row.open_alerts ?? []} /></Table.Cell>
            <Table.Cell className="last-change">
              {row.last_change ? (
                <Stack gap={0}>
                  <Cell value={row.last_change.actor} />
                  <When iso={row.last_change.at} />
                  <Text as="span" fontSize="xs" color="fg.muted" minW={0}><Cell value={row.last_change.reason ?? ""} /></Text>
                </Stack>
              ) : "-"}
            </Table.Cell>
            <Table.Cell>
              <Stack gap={0}>
                {row.dags.slice(0, DAGS_SHOWN).map(dagLink)}
                {row.dags.length > DAGS_SHOWN ? <Text fontSize="xs" color="fg.muted" whiteSpace="nowrap">and {row.dags.length - DAGS_SHOWN} more</Text> : null}
              </Stack>
            </Table.Cell>
            <Table.Cell><RunCell run={row.last_run} /></Table.Cell>
            <Table.Cell><Cell value={freshness(row.stale_sessions)} /></Table.Cell>
            <Table.Cell className="paused"><Stack gap={0}>{row.paused_in_airflow.map((text) => <Cell key={text} value={text} />)}</Stack></Table.Cell>
          </Table.Row>
          {opened === row.group ? (
            <Table.Row className="detail-row">
              <Table.Cell colSpan={COLUMNS.length}>
                <MarketDetail group={row.group} alerts={row.open_alerts ?? []} thresholds={row.thresholds ?? {}} version={row.version ?? null}
                  freshness={freshness(row.stale_sessions)} latest={row.latest_trade_date ?? null} canEdit={canEdit} tick={tick} saved={reload} />
              </Table.Cell>
            </Table.Row>
          ) : null}
          </Fragment>
        ))}
      </Grid>
    </Stack>
  );
}
