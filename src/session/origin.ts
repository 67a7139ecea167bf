/**
 * Whether a request comes from this site: the CSRF check of the HTTP API and the socket.io handshake
 * (cross-site WebSocket hijacking is the same attack) share it.
 */
export function isAllowedOrigin(
  origin: string | undefined,
  fetchSite: string | string[] | undefined,
  host: string | undefined,
  allowedOrigins: readonly string[],
): boolean {
  if (fetchSite === "same-origin" || fetchSite === "none") return true;
  if (origin === undefined) return fetchSite === undefined;
  if (allowedOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
