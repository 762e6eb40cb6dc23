import { Badge, Box, Button, HStack, Input, NativeSelect, Stack, Table, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";

import { send } from "../api";
import { type Ask, Cell, ErrorNote, Grid, Note, Prose, ReasonBox, type RowChangeView, RowDiffs, When } from "../components";
import { usePolled } from "../live";
import { parsed } from "../values";
import { type JobsBody, jobsPath } from "./Jobs";
import type { TabProps } from "./props";

type Scheduled = {
  id: number; run_at: string; state: string; summary: string; command: string; actor: string;
  reason: string | null; note: string | null; applied_at: string | null; diff: RowChangeView[];
};

const COLUMNS = [
  { title: "#", width: "7ch" }, { title: "Run at", width: "26ch" }, { title: "State", width: "12ch" },
  { title: "What", width: "38ch" }, { title: "By", width: "14ch" }, { title: "Reason", width: "30ch" },
  { title: "", width: "10ch" },
];

/** "due" is a scheduled change whose time has come but that the listener has not applied yet. */
const stateOf = (row: Scheduled) =>
  row.state === "scheduled" && new Date(row.run_at).getTime() <= Date.now() ? "due" : row.state;

export function Schedule({ changes, canEdit, rowsShown }: TabProps) {
  const { data, error, reload } = usePolled<Scheduled[]>("api/schedule", [changes]);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => { if (data) rowsShown(); }, [data, rowsShown]);
  const cancel = (row: Scheduled) => setAsk({
    question: `Cancel scheduled change #${row.id} (${row.summary})?`,
    act: async (reason) => { await send("POST", `api/schedule/${row.id}/cancel`, { reason }); reload(); },
  });
  return (
    <Stack gap={2}>
      <ErrorNote text={error} />
      <Note text={message} />
      {ask ? <ReasonBox ask={ask} close={() => setAsk(null)} /> : null}
      {canEdit ? <ScheduleForm done={(text) => { setMessage(text); reload(); }} /> : null}
      <Grid id="schedule" columns={COLUMNS}>
        {(data ?? []).map((row) => (
          <Table.Row key={row.id} data-scheduled={row.id} data-state={stateOf(row)}>
            <Table.Cell><Cell value={row.id} /></Table.Cell>
            <Table.Cell><When iso={row.run_at} /></Table.Cell>
            <Table.Cell><Badge whiteSpace="nowrap" title={row.note ?? ""}>{stateOf(row)}</Badge></Table.Cell>
            <Table.Cell><Stack gap={0}><Cell value={row.summary} /><RowDiffs rows={row.diff} /></Stack></Table.Cell>
            <Table.Cell><Cell value={row.actor} /></Table.Cell>
            <Table.Cell><Prose value={row.reason ?? ""} /></Table.Cell>
            <Table.Cell>
              {row.state === "scheduled" ? (
                <Button className="cancel" size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => cancel(row)}>Cancel</Button>
              ) : null}
            </Table.Cell>
          </Table.Row>
        ))}
      </Grid>
    </Stack>
  );
}

type What = { market: { group: string; enabled: boolean } } | { job: { dag: string; job: string; version: number; fields?: Record<string, string>; params?: Record<string, unknown> } };

/** Schedule a market switch or a job edit for a time: the same service call as `hubctl schedule
 * add` (the command's service runs in Capture mode, the rows it would write are kept). */
function ScheduleForm({ done }: { done: (message: string) => void }) {
  const [kind, setKind] = useState("market");
  const [what, setWhat] = useState<{ body: What; text: string } | null>(null);
  const [runAt, setRunAt] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = () => {
    setError(null);
    if (!what) return setError("say what to schedule: pick a market, or a job and one of its fields");
    send("POST", "api/schedule", { run_at: runAt, reason, ...what.body }).then(
      () => done(`Scheduled: ${what.text} at ${runAt}.`),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <Box borderWidth="1px" borderColor="border" rounded="md" p={3} id="schedule-form">
      <HStack gap={2} mb={2}>
        <Text fontWeight="semibold" whiteSpace="nowrap">Schedule</Text>
        <NativeSelect.Root size="sm" w="18ch">
          <NativeSelect.Field id="schedule-kind" value={kind} onChange={(e) => { setKind(e.target.value); setWhat(null); }}>
            <option value="market">a market switch</option>
            <option value="job">a job edit</option>
          </NativeSelect.Field>
        </NativeSelect.Root>
      </HStack>
      <HStack gap={2} flexWrap="wrap">
        {kind === "market" ? <MarketSwitch set={setWhat} /> : <JobEdit set={setWhat} />}
        <Input id="schedule-at" size="sm" w="26ch" placeholder="at, e.g. 2026-12-24T16:30Z" value={runAt} onChange={(e) => setRunAt(e.target.value)} />
        <Input id="schedule-reason" size="sm" w="30ch" placeholder="reason (required)" value={reason} onChange={(e) => setReason(e.target.value)} />
        <Button id="schedule-submit" size="sm" whiteSpace="nowrap" onClick={submit}>Schedule</Button>
      </HStack>
      <ErrorNote text={error} />
    </Box>
  );
}

type SetWhat = (what: { body: What; text: string } | null) => void;

function MarketSwitch({ set }: { set: SetWhat }) {
  const [group, setGroup] = useState("");
  const [enabled, setEnabled] = useState("false");
  useEffect(() => {
    const on = enabled === "true";
    set(group ? { body: { market: { group, enabled: on } }, text: `${group} ${on ? "enabled" : "disabled"}` } : null);
  }, [group, enabled, set]);
  return (
    <>
      <Input id="schedule-group" size="sm" w="20ch" placeholder="group" value={group} onChange={(e) => setGroup(e.target.value)} />
      <NativeSelect.Root size="sm" w="14ch">
        <NativeSelect.Field id="schedule-enabled" value={enabled} onChange={(e) => setEnabled(e.target.value)}>
          <option value="false">disable</option>
          <option value="true">enable</option>
        </NativeSelect.Field>
      </NativeSelect.Root>
    </>
  );
}

/** One knob or params value of one job; the job's version is carried, as the Jobs form does. */
function JobEdit({ set }: { set: SetWhat }) {
  const [key, setKey] = useState("");
  // The jobs matching what is typed (a page of them: the datalist suggests, the server filters).
  const { data, error } = usePolled<JobsBody>(jobsPath(key));
  const [field, setField] = useState("");
  const [value, setValue] = useState("");
  const job = data?.jobs.find((row) => `${row.dag_name}/${row.job_name}` === key);
  const params = Object.keys({ ...data?.params_schemas?.[job?.dag_name ?? ""]?.properties, ...job?.params });
  const names = [...(data?.fields ?? []).map((f) => f.name), ...params.map((name) => `params.${name}`)];
  useEffect(() => {
    if (!job || !field) return set(null);
    const change = field.startsWith("params.") ? { params: { [field.slice(7)]: parsed(value) } } : { fields: { [field]: value } };
    set({ body: { job: { dag: job.dag_name, job: job.job_name, version: job.version, ...change } }, text: `${key} ${field} = ${value}` });
  }, [job, key, field, value, set]);
  return (
    <>
      <Input id="schedule-job" size="sm" w="34ch" placeholder="job (dag/job)" list="schedule-jobs" value={key} onChange={(e) => setKey(e.target.value)} />
      <datalist id="schedule-jobs">{(data?.jobs ?? []).map((row) => <option key={`${row.dag_name}/${row.job_name}`} value={`${row.dag_name}/${row.job_name}`} />)}</datalist>
      <NativeSelect.Root size="sm" w="24ch">
        <NativeSelect.Field id="schedule-field" value={field} onChange={(e) => setField(e.target.value)}>
          <option value="">field</option>
          {names.map((name) => <option key={name} value={name}>{name}</option>)}
        </NativeSelect.Field>
      </NativeSelect.Root>
      <Input id="schedule-value" size="sm" w="20ch" placeholder="new value" value={value} onChange={(e) => setValue(e.target.value)} />
      <ErrorNote text={error} />
    </>
  );
}
