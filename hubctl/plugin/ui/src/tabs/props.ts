export type TabProps = {
  /** How often the audit log's head has moved since the page opened: each move means something
   * changed, so the tab fetches again. */
  changes: number;
  canEdit: boolean;
  /** Call once the tab's data rows are on screen (tests and bench wait for it). */
  rowsShown: () => void;
};
