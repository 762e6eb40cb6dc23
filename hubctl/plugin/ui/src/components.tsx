import { Box, Button, HStack, Input, Stack, Table, Text } from "@chakra-ui/react";
import { type ReactNode, useContext, useState } from "react";

import { Zone, formatTime, relativeTime } from "./time";

// The cells of a 100-row table are plain elements with these classes (set once on the page's
// root, in Airflow's theme tokens), not Chakra components: styling each of thousands of cells
// again on every render was most of a History page's first render (docs/performance.md).
export const PAGE_CSS = {
  "& .hub-cell": { display: "block", overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap", maxWidth: "100%" },
  "& .hub-muted": { color: "fg.muted", fontSize: "xs" },
  "& .hub-prose": { overflowWrap: "normal", wordBreak: "normal", whiteSpace: "pre-wrap" },
  "& .diff": { display: "flex", flexDirection: "column", fontSize: "sm" },
  "& .hub-diff-row": { display: "flex", gap: "1", alignItems: "baseline", minWidth: 0 },
  "& .hub-field": { fontWeight: "semibold", whiteSpace: "nowrap" },
  "& .hub-arrow": { color: "fg.muted" },
};

const asString = (value: unknown): string => (value === null || value === undefined ? "" : String(value));

/** An identifier or short value: one line, cut with an ellipsis, the full value on hover. */
export const Cell = ({ value, maxW }: { value: unknown; maxW?: string }) => {
  const text = asString(value);
  return <span className="hub-cell" style={maxW ? { maxWidth: maxW } : undefined} title={text} data-truncate="">{text}</span>;
};

/** A time, relative ("3 minutes ago") and absolute in Airflow's chosen zone. */
export function When({ iso }: { iso: string | null | undefined }) {
  const zone = useContext(Zone);
  if (!iso) return <span>-</span>;
  const absolute = formatTime(iso, zone);
  return (
    <div title={`${absolute} (${iso})`} data-when={iso}>
      <span className="hub-cell absolute">{absolute}</span>
      <span className="hub-cell hub-muted">{relativeTime(iso)}</span>
    </div>
  );
}

/** Free text (reasons, messages): wraps only between words, never inside one. */
export const Prose = ({ value }: { value: unknown }) => <span className="hub-prose" data-prose="">{asString(value)}</span>;

const shown = (value: unknown): string =>
  value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);

export type Changes = Record<string, { old?: unknown; new?: unknown }> | null | undefined;

/** Field by field, old → new; JSON values as text. */
export function Diff({ changes }: { changes: Changes }) {
  const fields = Object.entries(changes ?? {});
  if (!fields.length) return null;
  return (
    <div className="diff">
      {fields.map(([name, change]) => (
        <div key={name} className="hub-diff-row">
          <span className="hub-field">{name}</span>
          <Cell value={shown(change?.old)} maxW="18ch" />
          <span className="hub-arrow">→</span>
          <Cell value={shown(change?.new)} maxW="18ch" />
        </div>
      ))}
    </div>
  );
}

export const ErrorNote = ({ text }: { text: string | null | undefined }) =>
  text ? (
    <Box role="alert" className="error" borderWidth="1px" borderColor="border.error" color="fg.error" p={2} my={2} rounded="md">
      <Prose value={text} />
    </Box>
  ) : null;

export const Note = ({ text }: { text: string | null | undefined }) =>
  text ? (
    <Box className="message" borderWidth="1px" borderColor="border" bg="bg.muted" p={2} my={2} rounded="md">
      <Prose value={text} />
    </Box>
  ) : null;

export type Ask = { question: string; act: (reason: string) => Promise<void> };

/** Asks for the reason every change needs (the server refuses an empty one too). */
export function ReasonBox({ ask, close }: { ask: Ask; close: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const confirm = () => {
    if (!reason.trim()) return setError("say why: the reason is kept in the audit log");
    setBusy(true);
    ask.act(reason).then(close, (failure: Error) => {
      setBusy(false);
      setError(failure.message);
    });
  };
  return (
    <Box id="confirm" borderWidth="1px" borderColor="border.emphasized" bg="bg.panel" p={3} my={3} rounded="md">
      <Text id="confirm-text" mb={2}><Prose value={ask.question} /></Text>
      <HStack>
        <Input id="confirm-reason" size="sm" placeholder="Reason (required)" value={reason}
          onChange={(event) => setReason(event.target.value)} onKeyDown={(event) => event.key === "Enter" && confirm()} />
        <Button id="confirm-ok" size="sm" whiteSpace="nowrap" loading={busy} onClick={confirm}>Confirm</Button>
        <Button size="sm" variant="ghost" whiteSpace="nowrap" onClick={close}>Cancel</Button>
      </HStack>
      <ErrorNote text={error} />
    </Box>
  );
}

export type Column = { title: string; width: string };

/** A fixed-layout table: columns keep their widths and scroll sideways, never squeeze. */
export const Grid = ({ id, columns, children }: { id: string; columns: Column[]; children: ReactNode }) => (
  <Box overflowX="auto" borderWidth="1px" borderColor="border" rounded="md">
    <Table.Root id={id} size="sm" tableLayout="fixed" minW={columns.map((c) => c.width).join(" + ").replace(/^/, "calc(") + ")"}>
      <colgroup>{columns.map((c) => <col key={c.title} style={{ width: c.width }} />)}</colgroup>
      <Table.Header>
        <Table.Row>
          {columns.map((c) => <Table.ColumnHeader key={c.title} whiteSpace="nowrap">{c.title}</Table.ColumnHeader>)}
        </Table.Row>
      </Table.Header>
      <Table.Body>{children}</Table.Body>
    </Table.Root>
  </Box>
);

export type RowChangeView = { label: string; action: string; changed: Changes; version?: number | null };

/** Each row a request or scheduled change writes: its label, then field by field. */
export const RowDiffs = ({ rows }: { rows: RowChangeView[] | undefined }) => (
  <Stack gap={1}>
    {(rows ?? []).map((row, index) => (
      <Stack key={`${row.label}-${index}`} gap={0}>
        <Cell value={`${row.action} ${row.label}`} />
        <Diff changes={row.changed} />
      </Stack>
    ))}
  </Stack>
);
