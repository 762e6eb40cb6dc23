// Every URL from document.baseURI (Airflow's <base href>), so a `base_url` subpath works; a bare
// "api/..." would resolve against /plugin/markets.
export const hubUrl = (path: string): string => new URL(`hub/${path}`, document.baseURI).href;

export const loginUrl = (): string => {
  const login = new URL("api/v2/auth/login", document.baseURI);
  login.searchParams.set("next", `${location.pathname}${location.search}${location.hash}`);
  return login.href;
};

export type Session = { user: string; can_edit: boolean; csrf: string };
export type Problem = { error: string; fields: Record<string, string> };

/** A refused or failed call: the server's message, and its per-field messages when it has them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.error);
  }
}

let csrf: Promise<string> | null = null;

/** The CSRF token from api/session, fetched once per page load (it also sets the cookie). */
export const session = (): Promise<Session> => getJson<Session>("api/session");

async function csrfToken(): Promise<string> {
  csrf ??= session().then((s) => s.csrf);
  return csrf;
}

async function signedOut(response: Response): Promise<boolean> {
  if (response.status === 401) return true;
  if (response.status !== 403) return false;
  const body = (await response.clone().json().catch(() => ({}))) as { detail?: unknown };
  return body.detail === "Invalid JWT token";
}

async function problemOf(response: Response): Promise<Problem> {
  const body = (await response.json().catch(() => ({}))) as Partial<Problem> & { detail?: unknown };
  const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? "");
  return { error: body.error ?? (detail || `HTTP ${response.status}`), fields: body.fields ?? {} };
}

async function call(path: string, init: RequestInit): Promise<Response> {
  const response = await fetch(hubUrl(path), { ...init, credentials: "same-origin" });
  // Airflow's own rule (its axios interceptor): 401, or 403 "Invalid JWT token", is signed out.
  if (await signedOut(response)) {
    location.replace(loginUrl());
    throw new ApiError(401, { error: "signed out: opening Airflow's login", fields: {} });
  }
  if (response.status >= 400) throw new ApiError(response.status, await problemOf(response));
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call(path, { method: "GET" })).json()) as T;
}

/** A change: JSON body, CSRF header. A 202 means a change request was made instead. */
export type Written = { requested?: number; message?: string; [key: string]: unknown };

export async function send(method: "POST" | "PUT", path: string, body: unknown): Promise<Written> {
  const headers = { "Content-Type": "application/json", "X-Hub-CSRF": await csrfToken() };
  const response = await call(path, { method, headers, body: JSON.stringify(body) });
  return (await response.json().catch(() => ({}))) as Written;
}

export const query = (params: Record<string, string | number | null | undefined>): string => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
};
