import { Badge, Box, Button, HStack, Input, SimpleGrid, Stack, Table, Text } from "@chakra-ui/react";
import { useEffect, useState } from "react";
import { Link as RouterLink } from "react-router-dom";

import { query, send } from "../api";
import { Cell, ErrorNote, Grid, Note } from "../components";
import { TextField, useFormWrite, writtenNote } from "../forms";
import { usePolled } from "../live";
import { asText, parsed } from "../values";
import type { TabProps } from "./props";

export type FieldInfo = { name: string; help: string; nullable: boolean };
export type Job = Record<string, unknown> & { dag_name: string; job_name: string; version: number; enabled: boolean; params?: Record<string, unknown> };
export type JobsBody = {
  fields: FieldInfo[]; jobs: Job[]; total: number; offset: number; limit: number;
  params_schemas?: Record<string, { properties?: Record<string, { description?: string }> }>;
};

const COLUMNS = [
  { title: "DAG", width: "26ch" }, { title: "Job", width: "22ch" }, { title: "State", width: "11ch" },
  { title: "Version", width: "9ch" }, { title: "Params", width: "36ch" }, { title: "", width: "9ch" },
];

const FILTER_AFTER_MS = 250; // ask the server once typing pauses, not at every key

/** One page (the server's 100) of the jobs whose "dag/job group" contains `filter`. */
export const jobsPath = (filter: string, offset = 0): string => `api/jobs${query({ q: filter, offset: offset || null })}`;

export function Jobs({ changes, canEdit, rowsShown }: TabProps) {
  const [filter, setFilter] = useState("");
  const [asked, setAsked] = useState({ filter: "", offset: 0 });
  const { data, error, reload } = usePolled<JobsBody>(jobsPath(asked.filter, asked.offset), [changes]);
  const [editing, setEditing] = useState<Job | null>(null); // kept while paging or filtering
  useEffect(() => { if (data) rowsShown(); }, [data, rowsShown]);
  useEffect(() => {
    const timer = setTimeout(() => setAsked((was) => (was.filter === filter ? was : { filter, offset: 0 })), FILTER_AFTER_MS);
    return () => clearTimeout(timer);
  }, [filter]);
  const rows = data?.jobs ?? [];
  const step = (offset: number) => setAsked({ filter: asked.filter, offset: Math.max(0, offset) });
  return (
    <Stack gap={2}>
      <ErrorNote text={error} />
      {editing && data ? (
        <JobForm key={`${editing.dag_name}/${editing.job_name}`} job={editing} fields={data.fields} schema={data.params_schemas?.[editing.dag_name]} canEdit={canEdit} saved={reload} close={() => setEditing(null)} />
      ) : null}
      <HStack gap={2}>
        <Input id="jobs-filter" size="sm" w="30ch" placeholder="filter: dag, job or group" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <Text id="jobs-count" fontSize="sm" color="fg.muted" whiteSpace="nowrap">
          {data ? `${rows.length ? `${data.offset + 1}-${data.offset + rows.length}` : "0"} of ${data.total} jobs` : ""}
        </Text>
        <Button id="jobs-prev" size="xs" variant="outline" whiteSpace="nowrap" disabled={!data || data.offset === 0} onClick={() => data && step(data.offset - data.limit)}>Previous</Button>
        <Button id="jobs-next" size="xs" variant="outline" whiteSpace="nowrap" disabled={!data || data.offset + rows.length >= data.total} onClick={() => data && step(data.offset + data.limit)}>Next</Button>
      </HStack>
      <Grid id="jobs" columns={COLUMNS}>
        {rows.map((job) => {
          const key = `${job.dag_name}/${job.job_name}`;
          return (
            <Table.Row key={key} data-job={key}>
              <Table.Cell><RouterLink to={`/dags/${encodeURIComponent(`${job.dag_name}__${job.job_name}`)}`}><Cell value={job.dag_name} /></RouterLink></Table.Cell>
              <Table.Cell><Cell value={job.job_name} /></Table.Cell>
              <Table.Cell><Badge whiteSpace="nowrap" colorPalette={job.enabled ? "green" : "gray"}>{job.enabled ? "enabled" : "disabled"}</Badge></Table.Cell>
              <Table.Cell className="version"><Cell value={job.version} /></Table.Cell>
              <Table.Cell><Cell value={asText(job.params ?? {})} /></Table.Cell>
              <Table.Cell><Button className="edit" size="xs" variant="outline" whiteSpace="nowrap" onClick={() => setEditing(job)}>Edit</Button></Table.Cell>
            </Table.Row>
          );
        })}
      </Grid>
    </Stack>
  );
}

const JOB_CONFLICT = "Someone changed this job since you opened it: read it again (close and reopen the form).";

type FormProps = { job: Job; fields: FieldInfo[]; schema?: { properties?: Record<string, { description?: string }> }; canEdit: boolean; saved: () => void; close: () => void };

function JobForm({ job, fields, schema, canEdit, saved, close }: FormProps) {
  const paramNames = [...new Set([...Object.keys(job.params ?? {}), ...Object.keys(schema?.properties ?? {})])];
  const initial = Object.fromEntries([
    ...fields.map((f) => [f.name, asText(job[f.name])]),
    ...paramNames.map((name) => [`params.${name}`, asText(job.params?.[name])]),
  ]) as Record<string, string>;
  const [values, setValues] = useState(initial);
  const [reason, setReason] = useState("");
  const [version] = useState(job.version); // carried, so someone else's change in between is a conflict
  const { problems, note: failure, submit } = useFormWrite(JOB_CONFLICT);
  const [message, setMessage] = useState<string | null>(null);
  const save = () => submit([...Object.keys(values), "reason"], async () => {
    setMessage(null);
    const changed = Object.keys(values).filter((name) => values[name] !== initial[name]);
    const body = {
      version, reason,
      fields: Object.fromEntries(changed.filter((n) => !n.startsWith("params.")).map((n) => [n, values[n]])),
      params: Object.fromEntries(changed.filter((n) => n.startsWith("params.")).map((n) => [n.slice(7), parsed(values[n])])),
    };
    const written = await send("PUT", `api/jobs/${encodeURIComponent(job.dag_name)}/${encodeURIComponent(job.job_name)}`, body);
    setMessage(writtenNote(written, `Saved ${job.dag_name}/${job.job_name} (version ${String(written.version ?? "")}).`));
    saved();
  });
  const input = (name: string, help: string) => (
    <TextField key={name} id={`field-${name}`} label={name} help={help} value={values[name] ?? ""} disabled={!canEdit}
      onChange={(value) => setValues({ ...values, [name]: value })} error={problems[name]} errorId={`error-${name}`} />
  );
  return (
    <Box id="job-form" borderWidth="1px" borderColor="border.emphasized" bg="bg.panel" p={3} rounded="md">
      <Text fontWeight="semibold" mb={2} truncate title={`${job.dag_name}/${job.job_name}`}>{job.dag_name}/{job.job_name} (version {version})</Text>
      <SimpleGrid minChildWidth="22ch" gap={3}>
        {fields.map((f) => input(f.name, f.help))}
        {paramNames.map((name) => input(`params.${name}`, schema?.properties?.[name]?.description ?? ""))}
      </SimpleGrid>
      <TextField id="job-reason" label="Reason (required)" value={reason} disabled={!canEdit} onChange={setReason} error={problems.reason} errorId="error-reason" mt={3} />
      <HStack mt={3}>
        <Button id="job-save" size="sm" whiteSpace="nowrap" disabled={!canEdit} onClick={() => void save()}>Save</Button>
        <Button size="sm" variant="ghost" whiteSpace="nowrap" onClick={close}>Close</Button>
      </HStack>
      <div id="job-error"><ErrorNote text={failure} /></div>
      <div id="message"><Note text={message} /></div>
    </Box>
  );
}
