import { Badge, Button, HStack, Stack, Table, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";

import { send } from "../api";
import { type Ask, Cell, ErrorNote, Grid, Note, Prose, ReasonBox, type RowChangeView, RowDiffs, When } from "../components";
import { usePolled } from "../live";
import type { TabProps } from "./props";

type ChangeRequest = {
  id: number; state: string; requester: string; created_at: string; reason: string | null;
  command: string; groups: string[]; diff: RowChangeView[]; approvers: string[];
  approvals_required: number; decided_by: string | null;
};
type BreakGlass = { change_set: string; actor: string; occurred_at: string; reason: string | null; entries: number };

const COLUMNS = [
  { title: "#", width: "7ch" }, { title: "State", width: "11ch" }, { title: "What", width: "22ch" },
  { title: "Requested", width: "26ch" }, { title: "Changes", width: "36ch" }, { title: "Reason", width: "24ch" },
  { title: "Approvals", width: "14ch" }, { title: "", width: "22ch" },
];
const GLASS = [
  { title: "Change set", width: "20ch" }, { title: "Who", width: "14ch" }, { title: "When", width: "26ch" },
  { title: "What", width: "26ch" }, { title: "Reason", width: "30ch" }, { title: "", width: "16ch" },
];

const ACTIONS: Record<string, string[]> = { open: ["approve", "reject"], approved: ["apply", "reject"] };

export function Requests({ changes, canEdit, rowsShown }: TabProps) {
  const requests = usePolled<ChangeRequest[]>("api/requests", [changes]);
  const glass = usePolled<BreakGlass[]>("api/break-glass", [changes]);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => { if (requests.data) rowsShown(); }, [requests.data, rowsShown]);
  const act = (request: ChangeRequest, action: string) => setAsk({
    question: `${action[0].toUpperCase()}${action.slice(1)} change request #${request.id} (${request.groups.join(", ")})?`,
    act: async (reason) => {
      await send("POST", `api/requests/${request.id}/${action}`, { reason });
      setMessage(`Request #${request.id}: ${action} done.`);
      requests.reload();
    },
  });
  const acknowledge = (entry: BreakGlass) => setAsk({
    question: `Acknowledge the break-glass change ${entry.change_set} by ${entry.actor}?`,
    act: async (reason) => {
      await send("POST", `api/break-glass/${encodeURIComponent(entry.change_set)}/acknowledge`, { reason });
      glass.reload();
    },
  });
  return (
    <Stack gap={2}>
      <ErrorNote text={requests.error} />
      <Note text={message} />
      {ask ? <ReasonBox ask={ask} close={() => setAsk(null)} /> : null}
      <Grid id="requests" columns={COLUMNS}>
        {(requests.data ?? []).map((request) => (
          <Table.Row key={request.id} data-request={request.id} data-state={request.state}>
            <Table.Cell><Cell value={request.id} /></Table.Cell>
            <Table.Cell><Badge whiteSpace="nowrap">{request.state}</Badge></Table.Cell>
            <Table.Cell><Stack gap={0}><Cell value={request.groups.join(", ")} /><Cell value={request.command} /></Stack></Table.Cell>
            <Table.Cell><Stack gap={0}><Cell value={request.requester} /><When iso={request.created_at} /></Stack></Table.Cell>
            <Table.Cell><RowDiffs rows={request.diff} /></Table.Cell>
            <Table.Cell><Prose value={request.reason ?? ""} /></Table.Cell>
            <Table.Cell><Cell value={`${request.approvers.length}/${request.approvals_required}${request.approvers.length ? `: ${request.approvers.join(", ")}` : ""}`} /></Table.Cell>
            <Table.Cell>
              <HStack gap={1}>
                {(ACTIONS[request.state] ?? []).map((action) => (
                  <Button key={action} className={action} size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => act(request, action)}>
                    {action[0].toUpperCase() + action.slice(1)}
                  </Button>
                ))}
              </HStack>
            </Table.Cell>
          </Table.Row>
        ))}
      </Grid>
      <Text fontWeight="semibold" mt={4}>Break-glass changes waiting for a second person</Text>
      <ErrorNote text={glass.error} />
      <Grid id="break-glass" columns={GLASS}>
        {(glass.data ?? []).map((entry) => (
          <Table.Row key={entry.change_set} data-change-set={entry.change_set}>
            <Table.Cell><Cell value={entry.change_set} /></Table.Cell>
            <Table.Cell><Cell value={entry.actor} /></Table.Cell>
            <Table.Cell><When iso={entry.occurred_at} /></Table.Cell>
            <Table.Cell><Cell value={`${entry.entries} audit entries`} /></Table.Cell>
            <Table.Cell><Prose value={entry.reason ?? ""} /></Table.Cell>
            <Table.Cell>
              <Button className="acknowledge" size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => acknowledge(entry)}>Acknowledge</Button>
            </Table.Cell>
          </Table.Row>
        ))}
      </Grid>
    </Stack>
  );
}
