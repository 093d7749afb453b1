/** The public API as the UI uses it: one fetch helper with the session's token, typed errors. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

let currentToken: string | null = null;

/** Dispatched on window when a signed-in request is refused with 401 (token revoked or expired). */
export const UNAUTHENTICATED_EVENT = "mlops:unauthenticated";

export function setToken(token: string | null): void {
  currentToken = token;
}

export function authHeaders(): Record<string, string> {
  return currentToken ? { authorization: `Bearer ${currentToken}` } : {};
}

function messageOf(status: number, body: unknown): { message: string; code?: string } {
  if (body && typeof body === "object") {
    const error = (body as { error?: { message?: string; code?: string } | string }).error;
    if (error && typeof error === "object" && error.message)
      return { message: error.message, code: error.code };
    const mlflow = body as { message?: string; error_code?: string };
    if (mlflow.message) return { message: mlflow.message, code: mlflow.error_code };
  }
  return { message: `request failed with HTTP ${status}` };
}

/** JSON request against the API; throws ApiError with the server's message on any non-2xx answer. */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(), accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const { message, code } = messageOf(response.status, parsed);
    if (response.status === 401 && currentToken)
      window.dispatchEvent(new CustomEvent(UNAUTHENTICATED_EVENT, { detail: message }));
    throw new ApiError(response.status, message, code);
  }
  return parsed as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, undefined, signal);

/** Query string from defined values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Downloads a file through fetch (the token stays in a header, never in a link). */
export async function download(path: string, fileName: string): Promise<void> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw new ApiError(response.status, `download failed with HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Server-Sent Events over fetch: EventSource cannot send an Authorization header, and the token must not
 * travel in the URL. Calls onEvent for each event until the stream ends or signal aborts.
 */
export async function followSse(
  path: string,
  onEvent: (event: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(path, { headers: { ...authHeaders(), accept: "text/event-stream" }, signal });
  if (!response.ok || !response.body) {
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text
    }
    throw new ApiError(response.status, messageOf(response.status, parsed).message);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) onEvent({ event, data: data.join("\n") });
      end = buffer.indexOf("\n\n");
    }
  }
}
