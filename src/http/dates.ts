// HTTP-date parsing (RFC 9110 §5.6.7): exactly the three formats a recipient must
// accept — IMF-fixdate, obsolete RFC 850 and asctime — always as UTC. Anything
// else is NaN, so callers apply the RFC's rule for invalid dates (e.g. an
// invalid Expires means already expired, an invalid If-Modified-Since is ignored).
// Date.parse is not used: it accepts "2030" or ISO strings, and reads asctime
// in the process's local time zone. Day, month and zone names are matched
// without regard to case: the grammar spells them in one case, but origins send
// "MON, 01 JAN 2030 00:00:00 gmt" and §5.6.7 asks recipients to parse
// timestamps robustly — an Expires misread as invalid means "already expired".

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

function month(name: string): number {
  return MONTHS[name.toLowerCase()]!;
}

const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

function utc(year: number, month: number, day: number, h: number, m: number, s: number): number {
  if (day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return NaN;
  const t = Date.UTC(year, month, day, h, m, s);
  // Reject impossible days (31 Feb) that Date.UTC would roll over.
  return new Date(t).getUTCDate() === day ? t : NaN;
}

/**
 * The last IMF-fixdate parsed and its time: the responses of one second share it (and a
 * heuristic lifetime reads Date once more). A memo of a pure function (the other two formats,
 * whose reading depends on the current year, are not kept).
 */
let lastValue = '';
let lastResult = NaN;

export function parseHttpDate(value: string | undefined): number {
  if (!value) return NaN;
  if (value === lastValue) return lastResult;
  const v = value.trim();
  let m = IMF_FIXDATE.exec(v);
  if (m) {
    lastResult = utc(Number(m[3]), month(m[2]!), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
    lastValue = value;
    return lastResult;
  }
  m = RFC850.exec(v);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    let year = 2000 + Number(m[3]);
    if (year > new Date().getUTCFullYear() + 50) year -= 100;
    return utc(year, month(m[2]!), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME.exec(v);
  if (m) return utc(Number(m[6]), month(m[1]!), Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return NaN;
}

export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
