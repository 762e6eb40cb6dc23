import { Badge, Box, Button, HStack, Input, NativeSelect, Stack, Table, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";

import { send } from "../api";
import { type Ask, Cell, ErrorNote, Grid, Note, Prose, ReasonBox, type RowChangeView, RowDiffs, When } from "../components";
import { usePolled } from "../live";
import type { TabProps } from "./props";

type Scheduled = {
  id: number; run_at: string; state: string; summary: string; command: string; actor: string;
  reason: string | null; note: string | null; applied_at: string | null; diff: RowChangeView[];
};

const COLUMNS = [
  { title: "#", width: "7ch" }, { title: "Run at", width: "24ch" }, { title: "State", width: "12ch" },
  { title: "What", width: "40ch" }, { title: "By", width: "14ch" }, { title: "Reason", width: "30ch" },
  { title: "", width: "10ch" },
];

/** "due" is a scheduled change whose time has come but that the listener has not applied yet. */
const stateOf = (row: Scheduled) =>
  row.state === "scheduled" && new Date(row.run_at).getTime() <= Date.now() ? "due" : row.state;

export function Schedule({ head, canEdit, rowsShown }: TabProps) {
  const { data, error, reload } = usePolled<Scheduled[]>("api/schedule", [head]);
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
      {canEdit ? <ScheduleSwitch done={(text) => { setMessage(text); reload(); }} /> : null}
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

/** Schedule a market switch for a time: the same service call as `hubctl groups ... --at`. */
function ScheduleSwitch({ done }: { done: (message: string) => void }) {
  const [group, setGroup] = useState("");
  const [enabled, setEnabled] = useState("false");
  const [runAt, setRunAt] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = () => {
    setError(null);
    const body = { run_at: runAt, reason, market: { group, enabled: enabled === "true" } };
    send("POST", "api/schedule", body).then(
      () => done(`Scheduled: ${group} ${enabled === "true" ? "enabled" : "disabled"} at ${runAt}.`),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <Box borderWidth="1px" borderColor="border" rounded="md" p={3} id="schedule-form">
      <Text fontWeight="semibold" mb={2}>Schedule a market switch</Text>
      <HStack gap={2} flexWrap="wrap">
        <Input id="schedule-group" size="sm" w="20ch" placeholder="group" value={group} onChange={(e) => setGroup(e.target.value)} />
        <NativeSelect.Root size="sm" w="14ch">
          <NativeSelect.Field id="schedule-enabled" value={enabled} onChange={(e) => setEnabled(e.target.value)}>
            <option value="false">disable</option>
            <option value="true">enable</option>
          </NativeSelect.Field>
        </NativeSelect.Root>
        <Input id="schedule-at" size="sm" w="26ch" placeholder="at, e.g. 2026-12-24T16:30Z" value={runAt} onChange={(e) => setRunAt(e.target.value)} />
        <Input id="schedule-reason" size="sm" w="30ch" placeholder="reason (required)" value={reason} onChange={(e) => setReason(e.target.value)} />
        <Button id="schedule-submit" size="sm" whiteSpace="nowrap" onClick={submit}>Schedule</Button>
      </HStack>
      <ErrorNote text={error} />
      <Text fontSize="xs" color="fg.muted" mt={1}><Prose value="Job edits at a time: hubctl config set ... --at TIME (the page lists them here)." /></Text>
    </Box>
  );
}
