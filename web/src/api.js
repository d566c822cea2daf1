// api.js - the dashboard's only way to the server: fetch with the signed-in
// credential in the Authorization header (never in a URL, so it stays out of
// logs and history), and the API's error shape turned into an ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
  }
}

export async function get(path, credential) {
  let res;
  try {
    res = await fetch(path, {
      headers: credential ? { Authorization: `Bearer ${credential}` } : {},
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network',
      'The server did not answer: is `shopflow serve` (or `shopflow demo`) still running?');
  }
  const text = await res.text();
  if (!res.ok) {
    let code = `http_${res.status}`, message = res.statusText || `HTTP ${res.status}`;
    try {
      const e = JSON.parse(text).error;
      if (e) ({ code, message } = e);
    } catch (e) { /* not JSON: keep the status line */ }
    throw new ApiError(res.status, code, message);
  }
  const type = res.headers.get('Content-Type') || '';
  return type.startsWith('application/json') ? JSON.parse(text) : text;
}

// What an ApiError means for the person looking at the page.
export function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  switch (err.status) {
    case 0: return err.message;
    case 401: return `Not signed in: ${err.message}. Sign out and paste a valid key or token.`;
    case 403: return `Not allowed (${err.message}).`;
    case 503: return `The server cannot answer this yet (${err.message}); try again in a moment.`;
    default: return `${err.message} (HTTP ${err.status}).`;
  }
}
