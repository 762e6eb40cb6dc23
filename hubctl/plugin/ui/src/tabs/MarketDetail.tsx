import { Badge, Box, Button, HStack, NativeSelect, SimpleGrid, Stack, Table, Text } from "@chakra-ui/react";
import { useState } from "react";

import { send } from "../api";
import { Cell, ErrorNote, Grid, Note, Prose, When } from "../components";
import { DurationChart, type Run, SuccessRateChart } from "../charts";
import { TextField, useFormWrite, writtenNote } from "../forms";
import { usePolled } from "../live";

export type OpenAlert = {
  id: number; rule: string; subject: string; since: string; last_seen: string; value: number;
  threshold: number; detail: string; silenced_until: string | null;
};
export type Thresholds = Record<string, number>;

// The charts' N: how many of the newest finished runs of the market's DAGs they draw.
const RUN_COUNTS = [20, 50, 100];

const THRESHOLD_HELP: Record<string, string> = {
  data_late_minutes: "alert when prices miss the last session that closed more than this many minutes ago",
  unreachable_fetches: "alert after this many failed source fetches in a row",
};

const MARKET_CONFLICT = "Someone changed this market since the page read it: it reloads; try again.";

type DetailProps = { group: string; alerts: OpenAlert[]; thresholds: Thresholds; version: number | null; freshness: string; latest: string | null; canEdit: boolean; tick: unknown; saved: () => void };

/** One market's open alerts, its runs as charts, freshness, and its thresholds (editable). */
export function MarketDetail({ group, alerts, thresholds, version, freshness, latest, canEdit, tick, saved }: DetailProps) {
  const [count, setCount] = useState(RUN_COUNTS[0]);
  const { data: runs, error } = usePolled<Run[]>(`api/markets/${encodeURIComponent(group)}/runs?limit=${count}`, [tick]);
  const [message, setMessage] = useState<string | null>(null);
  return (
    <Stack gap={3} className="market-detail" data-detail={group} p={2}>
      <Note text={message} />
      <AlertList group={group} alerts={alerts} canEdit={canEdit} done={(text) => { setMessage(text); saved(); }} />
      <ErrorNote text={error} />
      <HStack gap={2}>
        <Text asChild fontSize="sm" whiteSpace="nowrap"><label htmlFor="runs-shown">Runs shown</label></Text>
        <NativeSelect.Root size="xs" w="10ch">
          <NativeSelect.Field id="runs-shown" value={count} onChange={(e) => setCount(Number(e.target.value))}>
            {RUN_COUNTS.map((n) => <option key={n} value={n}>{n}</option>)}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
      </HStack>
      <SimpleGrid minChildWidth="36ch" gap={4}>
        <Box>
          <Text fontSize="sm" fontWeight="semibold" whiteSpace="nowrap">Success rate, last {runs?.length ?? 0} runs</Text>
          {runs?.length ? <SuccessRateChart runs={runs} /> : <Text fontSize="sm" color="fg.muted">no runs recorded yet</Text>}
        </Box>
        <Box>
          <Text fontSize="sm" fontWeight="semibold" whiteSpace="nowrap">Run duration, last {runs?.length ?? 0} runs</Text>
          {runs?.length ? <DurationChart runs={runs} /> : <Text fontSize="sm" color="fg.muted">no runs recorded yet</Text>}
        </Box>
      </SimpleGrid>
      <Text fontSize="sm" className="freshness">Freshness: {freshness}{latest ? `, newest prices of ${latest}` : ""}</Text>
      <ThresholdForm key={version ?? 0} group={group} thresholds={thresholds} version={version} canEdit={canEdit} done={(text) => { setMessage(text); saved(); }} />
    </Stack>
  );
}

const ALERT_COLUMNS = [
  { title: "Rule", width: "18ch" }, { title: "Subject", width: "26ch" }, { title: "Since", width: "24ch" },
  { title: "Value / threshold", width: "17ch" }, { title: "Detail", width: "28ch" }, { title: "Silenced until", width: "24ch" },
  { title: "", width: "10ch" },
];

function AlertList({ group, alerts, canEdit, done }: { group: string; alerts: OpenAlert[]; canEdit: boolean; done: (text: string) => void }) {
  const [silencing, setSilencing] = useState<OpenAlert | null>(null);
  if (!alerts.length) return <Text fontSize="sm" className="no-alerts">No open alerts for {group}.</Text>;
  return (
    <Stack gap={2}>
      <Grid id={`alerts-${group}`} columns={ALERT_COLUMNS}>
        {alerts.map((alert) => (
          <Table.Row key={alert.id} className="alert" data-rule={alert.rule} data-subject={alert.subject}>
            <Table.Cell><Badge colorPalette={alert.silenced_until ? "yellow" : "red"} whiteSpace="nowrap">{alert.rule}</Badge></Table.Cell>
            <Table.Cell><Cell value={alert.subject} /></Table.Cell>
            <Table.Cell><When iso={alert.since} /></Table.Cell>
            <Table.Cell className="value"><Cell value={`${alert.value} / ${alert.threshold}`} /></Table.Cell>
            <Table.Cell className="detail"><Prose value={alert.detail} /></Table.Cell>
            <Table.Cell>{alert.silenced_until ? <When iso={alert.silenced_until} /> : "-"}</Table.Cell>
            <Table.Cell>
              <Button className="silence" size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => setSilencing(alert)}>Silence</Button>
            </Table.Cell>
          </Table.Row>
        ))}
      </Grid>
      {silencing ? <SilenceForm key={silencing.id} alert={silencing} close={() => setSilencing(null)} done={done} /> : null}
    </Stack>
  );
}

const inADay = () => new Date(Date.now() + 86400000).toISOString().replace(/\.\d+Z$/, "Z");

function SilenceForm({ alert, close, done }: { alert: OpenAlert; close: () => void; done: (text: string) => void }) {
  const [until, setUntil] = useState(inADay);
  const [reason, setReason] = useState("");
  const { problems, note, submit } = useFormWrite(MARKET_CONFLICT);
  const save = () => submit(["until", "reason"], async () => {
    const answer = await send("POST", "api/alerts/silence", { rule: alert.rule, subject: alert.subject, until, reason });
    done(writtenNote(answer, `${alert.rule} of ${alert.subject} silenced until ${until}.`));
    close();
  });
  return (
    <Box id="silence-form" borderWidth="1px" borderColor="border.emphasized" bg="bg.panel" p={3} rounded="md">
      <Text mb={2} truncate title={`${alert.rule} ${alert.subject}`}>Silence {alert.rule} of {alert.subject}</Text>
      <HStack align="start" gap={3}>
        <TextField id="silence-until" label="Until (ISO 8601 with its zone)" value={until} onChange={setUntil} error={problems.until} errorId="error-until" maxW="30ch" />
        <TextField id="silence-reason" label="Reason (required)" value={reason} onChange={setReason} error={problems.reason} errorId="error-silence-reason" />
      </HStack>
      <HStack mt={3}>
        <Button id="silence-save" size="sm" whiteSpace="nowrap" onClick={() => void save()}>Silence</Button>
        <Button size="sm" variant="ghost" whiteSpace="nowrap" onClick={close}>Cancel</Button>
      </HStack>
      <ErrorNote text={note} />
    </Box>
  );
}

function ThresholdForm({ group, thresholds, version, canEdit, done }: { group: string; thresholds: Thresholds; version: number | null; canEdit: boolean; done: (text: string) => void }) {
  const initial = Object.fromEntries(Object.entries(thresholds).map(([name, value]) => [name, String(value)]));
  const [values, setValues] = useState(initial);
  const [reason, setReason] = useState("");
  const { problems, note, submit } = useFormWrite(MARKET_CONFLICT);
  const save = () => submit([...Object.keys(initial), "reason"], async () => {
    const fields = Object.fromEntries(Object.entries(values).filter(([name, value]) => value !== initial[name]));
    const answer = await send("PUT", `api/markets/${encodeURIComponent(group)}/thresholds`, { version, fields, reason });
    done(writtenNote(answer, `Thresholds of ${group} saved.`));
  });
  return (
    <Box id="thresholds" className="thresholds" borderWidth="1px" borderColor="border" p={3} rounded="md">
      <Text fontSize="sm" fontWeight="semibold" mb={2}>Alert thresholds of {group}</Text>
      <SimpleGrid minChildWidth="22ch" gap={3}>
        {Object.keys(initial).map((name) => (
          <TextField key={name} id={`threshold-${name}`} label={name} help={THRESHOLD_HELP[name] ?? ""} value={values[name] ?? ""} disabled={!canEdit}
            onChange={(value) => setValues({ ...values, [name]: value })} error={problems[name]} errorId={`error-${name}`} />
        ))}
        <TextField id="threshold-reason" label="Reason (required)" value={reason} disabled={!canEdit} onChange={setReason} error={problems.reason} errorId="error-threshold-reason" />
      </SimpleGrid>
      <Button id="threshold-save" mt={3} size="sm" whiteSpace="nowrap" disabled={!canEdit} onClick={() => void save()}>Save thresholds</Button>
      <ErrorNote text={note} />
    </Box>
  );
}
