import { Badge, Box, ChakraProvider, HStack, Tabs, Text, createSystem, defaultConfig } from "@chakra-ui/react";
import { useCallback, useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";

import { type Session, session } from "./api";
import { CHART_CSS } from "./charts";
import { ErrorNote, PAGE_CSS } from "./components";
import { startEarly, useAuditChanges } from "./live";
import { Zone, useTimezone } from "./time";
import { History, historyPath } from "./tabs/History";
import { Jobs, jobsPath } from "./tabs/Jobs";
import { Markets } from "./tabs/Markets";
import { Requests } from "./tabs/Requests";
import { Schedule } from "./tabs/Schedule";
import type { TabProps } from "./tabs/props";

declare global {
  // Set by Airflow's UI (its theme, light and dark); absent when the bundle runs outside Airflow.
  var ChakraUISystem: ReturnType<typeof createSystem> | undefined;
}

type Tab = { title: string; view: (props: TabProps) => React.ReactNode; data: (params: URLSearchParams) => string };
const TABS: Record<string, Tab> = {
  markets: { title: "Markets", view: Markets, data: () => "api/markets" },
  jobs: { title: "Jobs", view: Jobs, data: () => jobsPath("") },
  requests: { title: "Requests", view: Requests, data: () => "api/requests" },
  schedule: { title: "Schedule", view: Schedule, data: () => "api/schedule" },
  history: { title: "History", view: History, data: (params) => historyPath(params, null) },
};

// The opened tab's data is asked for as soon as Airflow loads the bundle, not once React has
// rendered the page (a few hundred ms later on a busy machine): the first render waits for it.
const opened = new URLSearchParams(location.search);
startEarly((TABS[opened.get("tab") ?? "markets"] ?? TABS.markets).data(opened));

function Page() {
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "markets";
  const View = (TABS[tab] ?? TABS.markets).view;
  const changes = useAuditChanges();
  const zone = useTimezone();
  const [who, setWho] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState<string | null>(null);
  useEffect(() => void session().then(setWho, (failure: Error) => setError(failure.message)), []);
  const rowsShown = useCallback(() => {
    setReady((was) => {
      // The first-render figure: from navigation to this tab's rows on screen.
      if (was !== tab) performance.mark(`hub:${tab}:rows`);
      return tab;
    });
  }, [tab]);
  const open = (next: string) => {
    setReady(null);
    setParams((old) => { const kept = new URLSearchParams(old); kept.set("tab", next); return kept; });
  };
  return (
    <Zone.Provider value={zone}>
    <Box p={4} minW={0} css={{ ...PAGE_CSS, ...CHART_CSS }} data-hub-tab={tab} data-ready={ready === tab ? "true" : "false"}>
      <HStack justify="space-between" mb={2} gap={4}>
        <Text fontSize="xl" fontWeight="semibold" whiteSpace="nowrap">Markets</Text>
        <HStack gap={2} minW={0}>
          <Text as="span" id="user" whiteSpace="nowrap" truncate>{who?.user ?? ""}</Text>
          {who && !who.can_edit ? <Badge id="role-note" whiteSpace="nowrap">read-only: your role cannot change anything</Badge> : null}
        </HStack>
      </HStack>
      <ErrorNote text={error} />
      <Tabs.Root value={tab in TABS ? tab : "markets"} onValueChange={(event) => open(event.value)} lazyMount unmountOnExit>
        <Tabs.List>
          {Object.entries(TABS).map(([name, { title }]) => (
            <Tabs.Trigger key={name} value={name} id={`tab-${name}`} whiteSpace="nowrap">{title}</Tabs.Trigger>
          ))}
        </Tabs.List>
        {/* An element, not a call: each tab keeps its own hooks, so switching tabs is safe. The
            tab mounts at once, without waiting for the audit head: only a move of the head after
            its first answer makes it fetch again. */}
        <Box pt={3}><View key={tab} changes={changes} canEdit={who?.can_edit ?? false} rowsShown={rowsShown} /></Box>
      </Tabs.Root>
    </Box>
    </Zone.Provider>
  );
}

// Inside Airflow the page renders in Airflow's own React tree, under Airflow's ChakraProvider
// (Chakra is Airflow's module, so its context reaches us): its tokens follow Airflow's light/dark
// class on <html>. A second provider wrote the theme's global and token CSS again on every open.
// Outside Airflow the page brings Chakra's default system.
const MarketsPage = () =>
  globalThis.ChakraUISystem ? (
    <Page />
  ) : (
    <ChakraProvider value={createSystem(defaultConfig)}>
      <Page />
    </ChakraProvider>
  );

export default MarketsPage; // the only export: the UMD global is then the component itself
