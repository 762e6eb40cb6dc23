import { Badge, Button, HStack, Input, Link, Stack, Table, Text } from "@chakra-ui/react";
import { Fragment, useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { hubUrl, query, send } from "../api";
import { type Ask, Cell, type Changes, Diff, ErrorNote, Grid, Note, Prose, ReasonBox, When } from "../components";
import { usePolled } from "../live";
import type { TabProps } from "./props";

type Entry = {
  id: number; occurred_at: string; actor: string; via: string; action: string; table: string;
  label: string; changes: Changes; reason: string | null; change_set: string | null;
  revertible?: boolean; revert_refusal?: string | null;
};
type Page = { entries: Entry[]; next_before_id: number | null };
type Verify = { ok: boolean; rows_checked: number; problem: string | null; anchors_checked: number; anchors: string };

const FILTERS = ["group", "job", "actor", "via", "since", "until"] as const;
const COLUMNS = [
  { title: "#", width: "8ch" }, { title: "When", width: "26ch" }, { title: "Actor", width: "13ch" },
  { title: "Via", width: "9ch" }, { title: "What", width: "28ch" }, { title: "Changes", width: "40ch" },
  { title: "Reason", width: "27ch" }, { title: "", width: "10ch" },
];

/** One page of the filtered log: the first (`before` null) or the one below id `before`. */
export const historyPath = (params: URLSearchParams, before: number | null): string =>
  `api/history${query({ ...Object.fromEntries(FILTERS.map((name) => [name, params.get(name)])), before_id: before, limit: 100 })}`;

/** The older API answered a bare list: one page, no further pages. */
const asPage = (body: Page | Entry[] | null): Page | null =>
  body === null ? null : Array.isArray(body) ? { entries: body, next_before_id: null } : body;

export function History({ changes, canEdit, rowsShown }: TabProps) {
  const [params, setParams] = useSearchParams();
  const filters = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ""]));
  const [draft, setDraft] = useState(filters);
  const [pages, setPages] = useState<number[]>([]); // before_id of each page after the first
  const polled = usePolled<Page | Entry[]>(historyPath(params, pages.at(-1) ?? null), [changes]);
  const page = asPage(polled.data);
  const verify = usePolled<Verify>("api/verify", [changes]);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => { if (page) rowsShown(); }, [page, rowsShown]);
  const apply = () => {
    setPages([]);
    setParams((old) => {
      const next = new URLSearchParams(old);
      for (const name of FILTERS) draft[name] ? next.set(name, draft[name]) : next.delete(name);
      return next;
    });
  };
  const revert = (entry: Entry) => setAsk({
    question: `Revert audit entry ${entry.id} (${entry.label})? The inverse change is written as a new entry.`,
    act: async (reason) => {
      await send("POST", `api/history/${entry.id}/revert`, { reason });
      setMessage(`Reverted entry ${entry.id}.`);
      polled.reload();
    },
  });
  const exportUrl = (format: string) => hubUrl(`api/history/export${query({ ...filters, format })}`);
  return (
    <Stack gap={2}>
      <HStack gap={2} flexWrap="wrap" id="history-filters">
        {FILTERS.map((name) => (
          <Input key={name} id={`filter-${name}`} size="sm" w="16ch" placeholder={name === "since" || name === "until" ? `${name} (ISO time)` : name}
            value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} onKeyDown={(e) => e.key === "Enter" && apply()} />
        ))}
        <Button id="filter-apply" size="sm" whiteSpace="nowrap" onClick={apply}>Filter</Button>
        <Link id="export-csv" href={exportUrl("csv")} whiteSpace="nowrap" download>Export CSV</Link>
        <Link id="export-jsonl" href={exportUrl("jsonl")} whiteSpace="nowrap" download>Export JSON Lines</Link>
      </HStack>
      <VerifyLine verify={verify.data} error={verify.error} />
      <ErrorNote text={polled.error} />
      <Note text={message} />
      {ask ? <ReasonBox ask={ask} close={() => setAsk(null)} /> : null}
      <Grid id="history" columns={COLUMNS}>
        {(page?.entries ?? []).map((entry, index, all) => (
          <Fragment key={entry.id}>
            {entry.change_set && entry.change_set !== all[index - 1]?.change_set ? (
              <Table.Row className="change-set" bg="bg.muted"><Table.Cell colSpan={COLUMNS.length}><Cell value={`change set ${entry.change_set}`} /></Table.Cell></Table.Row>
            ) : null}
            <Table.Row data-id={entry.id}>
              <Table.Cell><Cell value={entry.id} /></Table.Cell>
              <Table.Cell><When iso={entry.occurred_at} /></Table.Cell>
              <Table.Cell><Cell value={entry.actor} /></Table.Cell>
              <Table.Cell><Badge whiteSpace="nowrap" variant="outline">{entry.via}</Badge></Table.Cell>
              <Table.Cell><Cell value={entry.label} /><span className="hub-cell hub-muted" title={`${entry.action} ${entry.table}`}>{entry.action} {entry.table}</span></Table.Cell>
              <Table.Cell><Diff changes={entry.changes} /></Table.Cell>
              <Table.Cell><Prose value={entry.reason ?? ""} /></Table.Cell>
              <Table.Cell>
                {entry.revertible ? (
                  <Button className="revert" size="xs" variant="outline" whiteSpace="nowrap" disabled={!canEdit} onClick={() => revert(entry)}>Revert</Button>
                ) : null}
              </Table.Cell>
            </Table.Row>
          </Fragment>
        ))}
      </Grid>
      <HStack>
        <Button id="history-newest" size="sm" variant="outline" whiteSpace="nowrap" disabled={!pages.length} onClick={() => setPages([])}>Newest</Button>
        <Button id="history-newer" size="sm" variant="outline" whiteSpace="nowrap" disabled={!pages.length} onClick={() => setPages(pages.slice(0, -1))}>Newer</Button>
        <Button id="history-older" size="sm" variant="outline" whiteSpace="nowrap" disabled={!page?.next_before_id}
          onClick={() => page?.next_before_id && setPages([...pages, page.next_before_id])}>Older</Button>
        <Text fontSize="sm" color="fg.muted" whiteSpace="nowrap" id="history-page">page {pages.length + 1}</Text>
      </HStack>
      <AsOf />
    </Stack>
  );
}

function VerifyLine({ verify, error }: { verify: Verify | null; error: string | null }) {
  if (error) return <ErrorNote text={error} />;
  if (!verify) return null;
  const text = verify.ok
    ? `Audit log verified: ${verify.rows_checked} entries, hash chain intact.`
    : `Audit log verification FAILED: ${verify.problem ?? "unknown problem"}`;
  const anchors = verify.anchors ? ` Anchors: ${verify.anchors}` : "";
  return <Text id="verify" fontSize="sm" color={verify.ok ? "fg.muted" : "fg.error"}><Prose value={text + anchors} /></Text>;
}

type AsOfBody = { at: string; groups?: Record<string, unknown>[]; jobs?: Record<string, unknown>[] };

/** The configuration as it was at a time (the same service as `hubctl ... --at`). */
function AsOf() {
  const [at, setAt] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const polled = usePolled<AsOfBody | null>(shown ? `api/as-of${query({ at: shown })}` : "api/head", [shown]);
  const body = shown ? (polled.data as AsOfBody | null) : null;
  return (
    <Stack gap={2} mt={4} id="as-of">
      <HStack>
        <Text whiteSpace="nowrap" fontWeight="semibold">As of</Text>
        <Input id="as-of-at" size="sm" w="30ch" placeholder="a time, e.g. 2026-12-01T09:00Z" value={at} onChange={(e) => setAt(e.target.value)} />
        <Button id="as-of-show" size="sm" variant="outline" whiteSpace="nowrap" onClick={() => setShown(at || null)}>Show</Button>
      </HStack>
      {shown ? <ErrorNote text={polled.error} /> : null}
      {body?.groups ? (
        <Grid id="as-of-groups" columns={[{ title: "Group", width: "24ch" }, { title: "State", width: "12ch" }, { title: "Version", width: "10ch" }]}>
          {body.groups.map((group) => (
            <Table.Row key={String(group.group_name)} data-group={String(group.group_name)}>
              <Table.Cell><Cell value={group.group_name} /></Table.Cell>
              <Table.Cell><Cell value={group.enabled ? "enabled" : "disabled"} /></Table.Cell>
              <Table.Cell><Cell value={group.version} /></Table.Cell>
            </Table.Row>
          ))}
        </Grid>
      ) : null}
    </Stack>
  );
}
