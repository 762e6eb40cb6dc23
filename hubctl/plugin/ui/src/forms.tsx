import { Field, Input } from "@chakra-ui/react";
import { useState } from "react";

import { ApiError, type Written } from "./api";

/** What a write says once it is done: the request it became under four-eyes, or ``saved``. */
export const writtenNote = (done: Written, saved: string): string =>
  done.requested ? `${done.message ?? "change request created"} (see the Requests tab)` : saved;

export type FormWrite = {
  /** Each shown field's refusal, to go under it. */
  problems: Record<string, string>;
  /** The rest of a refusal (a conflict, a field the form does not show), one note. */
  note: string | null;
  /** Runs ``write``; a refusal fills ``problems`` and ``note`` (cleared at each try). */
  submit: (shown: string[], write: () => Promise<void>) => Promise<void>;
};

/** A form's write and its refusal. ``conflict``: what to do when someone else changed the row
 * since the form read it. */
export function useFormWrite(conflict: string): FormWrite {
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [note, setNote] = useState<string | null>(null);
  const submit = async (shown: string[], write: () => Promise<void>) => {
    setProblems({}); setNote(null);
    try {
      await write();
    } catch (error) {
      const refused = refusal(error, shown, conflict);
      setProblems(refused.fields); setNote(refused.note);
    }
  };
  return { problems, note, submit };
}

/** A write's refusal: the messages of the form's own fields (``shown``) go under them; any other
 * is one note above. */
function refusal(error: unknown, shown: string[], conflict: string): { fields: Record<string, string>; note: string | null } {
  if (!(error instanceof ApiError)) return { fields: {}, note: String(error) };
  if (error.status === 409) return { fields: {}, note: `Conflict: ${error.message}. ${conflict}` };
  const entries = Object.entries(error.problem.fields);
  const fields = Object.fromEntries(entries.filter(([name]) => shown.includes(name)));
  const others = entries.filter(([name]) => !shown.includes(name)).map(([name, text]) => (name ? `${name}: ${text}` : text));
  return { fields, note: others.join("; ") || (entries.length ? null : error.message) };
}

type TextFieldProps = {
  id: string; label: string; value: string; onChange: (value: string) => void;
  error?: string; errorId: string; help?: string; disabled?: boolean; maxW?: string; mt?: number;
};

/** A labelled one-line input with its error under it. */
export const TextField = ({ id, label, value, onChange, error, errorId, help, disabled, maxW, mt }: TextFieldProps) => (
  <Field.Root invalid={Boolean(error)} maxW={maxW} mt={mt}>
    <Field.Label whiteSpace="nowrap" title={help}>{label}</Field.Label>
    <Input id={id} size="sm" value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} />
    {error ? <Field.ErrorText id={errorId}>{error}</Field.ErrorText> : null}
  </Field.Root>
);
