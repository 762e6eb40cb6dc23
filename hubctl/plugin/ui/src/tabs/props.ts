export type TabProps = {
  /** The audit log's newest id: a new value means something changed, so the tab fetches again. */
  head: number | null;
  canEdit: boolean;
  /** Call once the tab's data rows are on screen (tests and bench wait for it). */
  rowsShown: () => void;
};
