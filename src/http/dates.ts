// HTTP-date parsing (RFC 9110 §5.6.7). Invalid dates are NaN so callers can apply
// the RFC's rule for each field (e.g. an invalid Expires means already expired).

export function parseHttpDate(value: string | undefined): number {
  if (!value) return NaN;
  return Date.parse(value);
}

export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
