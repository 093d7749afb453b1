/** Thin HTTP client for the native API, used by every CLI command. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ConnectionError extends Error {}

export interface ApiClientOptions {
  url: string;
  token?: string;
  fetchImpl?: typeof fetch;
}

export class ApiClient {
  readonly url: string;
  private readonly token?: string;

  constructor(options: ApiClientOptions) {
    this.url = options.url.replace(/\/$/, "");
    this.token = options.token;
  }

  get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.request<T>("GET", withQuery(path, query));
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** Raw request for streams and binary bodies. */
  async raw(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set("authorization", `Bearer ${this.token}`);
    let response: Response;
    try {
      response = await fetch(this.url + path, { ...init, method, headers });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ConnectionError(`cannot reach ${this.url} (${cause}); is the server running? (mlops server)`);
    }
    if (!response.ok) throw await toApiError(response);
    return response;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit =
      body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
    const response = await this.raw(method, path, init);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string } | string;
      error_code?: string;
      message?: string;
    };
    if (typeof body.error === "object" && body.error) {
      return new ApiError(
        response.status,
        body.error.code ?? "ERROR",
        body.error.message ?? response.statusText,
      );
    }
    if (body.error_code)
      return new ApiError(response.status, body.error_code, body.message ?? response.statusText);
    if (typeof body.error === "string") return new ApiError(response.status, "ERROR", body.error);
  } catch {
    // not JSON
  }
  return new ApiError(response.status, "HTTP_" + response.status, text.slice(0, 200) || response.statusText);
}

export function withQuery(
  path: string,
  query?: Record<string, string | number | boolean | undefined>,
): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export function enc(segment: string): string {
  return encodeURIComponent(segment);
}
