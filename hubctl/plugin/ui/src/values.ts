/** A value as the page shows and edits it: strings as they are, anything else as JSON. */
export const asText = (value: unknown): string =>
  value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);

/** A typed params value: numbers, booleans and JSON as such, anything else as the text typed. */
export const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
