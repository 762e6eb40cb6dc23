import { Box, Button, HStack, Input, Stack, Table, Text } from "@chakra-ui/react";
import { type ReactNode, useState } from "react";

import { formatTime, relativeTime, useTimezone } from "./time";

/** An identifier or short value: one line, cut with an ellipsis, the full value on hover. */
export const Cell = ({ value, maxW = "100%" }: { value: unknown; maxW?: string }) => {
  const text = value === null || value === undefined ? "" : String(value);
  return (
    <Text as="span" display="block" truncate whiteSpace="nowrap" maxW={maxW} title={text} data-truncate="">
      {text}
    </Text>
  );
};

/** A time, relative ("3 minutes ago") and absolute in Airflow's chosen zone. */
export function When({ iso }: { iso: string | null | undefined }) {
  const zone = useTimezone();
  if (!iso) return <Text as="span">-</Text>;
  const absolute = formatTime(iso, zone);
  return (
    <Stack gap={0} title={`${absolute} (${iso})`} data-when={iso}>
      <Text as="span" whiteSpace="nowrap" truncate className="absolute">{absolute}</Text>
      <Text as="span" whiteSpace="nowrap" truncate color="fg.muted" fontSize="xs">{relativeTime(iso)}</Text>
    </Stack>
  );
}

/** Free text (reasons, messages): wraps only between words, never inside one. */
export const Prose = ({ value }: { value: unknown }) => (
  <Text as="span" overflowWrap="normal" wordBreak="normal" whiteSpace="pre-wrap" data-prose="">
    {value === null || value === undefined ? "" : String(value)}
  </Text>
);

const shown = (value: unknown): string =>
  value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);

export type Changes = Record<string, { old?: unknown; new?: unknown }> | null | undefined;

/** Field by field, old → new; JSON values as text. */
export function Diff({ changes }: { changes: Changes }) {
  const fields = Object.entries(changes ?? {});
  if (!fields.length) return null;
  return (
    <Stack gap={0} fontSize="sm" className="diff">
      {fields.map(([name, change]) => (
        <HStack key={name} gap={1} alignItems="baseline" minW={0}>
          <Text as="span" fontWeight="semibold" whiteSpace="nowrap">{name}</Text>
          <Cell value={shown(change?.old)} maxW="18ch" />
          <Text as="span" color="fg.muted">→</Text>
          <Cell value={shown(change?.new)} maxW="18ch" />
        </HStack>
      ))}
    </Stack>
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
