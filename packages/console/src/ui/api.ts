// The page's calls to its own server. Relative URLs: the console may be mounted under any path.

/** What the server says about itself (never a credential). */
export interface Meta {
  readonly actions: boolean;
  readonly supports: { readonly deadLetters: true | string; readonly groups: true | string };
  readonly pairs: readonly { readonly topic: string; readonly group: string }[];
  readonly topics: readonly string[];
}

/** An error the API answered with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  const response = await fetch(`./api/${path}${text === '' ? '' : `?${text}`}`, {
    headers: { Accept: 'application/json' },
  });
  return answer<T>(response);
}

/** An action: the token goes in the Authorization header, never in the URL or a cookie. */
export async function postAction<T>(path: string, token: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token !== '') headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`./api/${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  return answer<T>(response);
}

async function answer<T>(response: Response): Promise<T> {
  const value = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    throw new ApiError(
      response.status,
      value.error?.code ?? 'http',
      value.error?.message ?? response.statusText,
    );
  }
  return value as T;
}

/** A live stream from the server; returns the function that closes it. */
export function listen(path: string, handlers: Record<string, (data: unknown) => void>): () => void {
  const source = new EventSource(`./api/${path}`);
  for (const [event, handle] of Object.entries(handlers)) {
    source.addEventListener(event, (message) => handle(JSON.parse((message as MessageEvent<string>).data)));
  }
  return () => source.close();
}
