// Structured Field Dictionaries (RFC 8941 §3.2, parsed per §4.2), for the targeted
// cache-control fields of RFC 9213, whose §2.1 says a field that fails to parse is
// ignored as a whole. The parse decides validity and says where each member's key and
// bare value are (parameters skipped); the directives themselves are read by
// cache-control.ts. Pure.

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64_CHAR = /[A-Za-z0-9+/=]/;
const DIGIT = /[0-9]/;

/** A cursor over the field value; each parse step returns false on the first error. */
class Input {
  pos = 0;
  constructor(readonly s: string) {}
  /** The current character ('' at the end); a method, so checks are not narrowed across moves. */
  ch(): string {
    return this.s[this.pos] ?? '';
  }
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  skip(chars: string): void {
    while (!this.done && chars.includes(this.ch())) this.pos++;
  }
}

function key(i: Input): boolean {
  if (!KEY_START.test(i.ch())) return false;
  i.pos++;
  while (!i.done && KEY_CHAR.test(i.ch())) i.pos++;
  return true;
}

/** §4.2.4: integer (at most 15 digits) or decimal (at most 12 + 3 digits). */
function number(i: Input): boolean {
  if (i.ch() === '-') i.pos++;
  let digits = 0;
  while (DIGIT.test(i.ch())) {
    i.pos++;
    digits++;
  }
  if (digits === 0) return false;
  if (i.ch() !== '.') return digits <= 15;
  if (digits > 12) return false;
  i.pos++;
  let fraction = 0;
  while (DIGIT.test(i.ch())) {
    i.pos++;
    fraction++;
  }
  return fraction >= 1 && fraction <= 3;
}

/** §4.2.5: printable ASCII; only \" and \\ may be escaped. */
function string(i: Input): boolean {
  i.pos++;
  while (!i.done) {
    const c = i.ch();
    i.pos++;
    if (c === '"') return true;
    if (c === '\\') {
      if (i.ch() !== '"' && i.ch() !== '\\') return false;
      i.pos++;
    } else if (c < ' ' || c > '~') {
      return false;
    }
  }
  return false;
}

function bareItem(i: Input): boolean {
  const c = i.ch();
  if (c === '-' || DIGIT.test(c)) return number(i);
  if (c === '"') return string(i);
  if (c === '?') {
    i.pos++;
    if (i.ch() !== '0' && i.ch() !== '1') return false;
    i.pos++;
    return true;
  }
  if (c === ':') {
    i.pos++;
    while (BASE64_CHAR.test(i.ch())) i.pos++;
    if (i.ch() !== ':') return false;
    i.pos++;
    return true;
  }
  if (TOKEN_START.test(c)) {
    i.pos++;
    while (!i.done && TOKEN_CHAR.test(i.ch())) i.pos++;
    return true;
  }
  return false;
}

/** §4.2.3.2: *( ";" *SP key [ "=" bare-item ] ). */
function parameters(i: Input): boolean {
  while (i.ch() === ';') {
    i.pos++;
    i.skip(' ');
    if (!key(i)) return false;
    if (i.ch() === '=') {
      i.pos++;
      if (!bareItem(i)) return false;
    }
  }
  return true;
}

/** §4.2.1.2: "(" *SP [ item *( 1*SP item ) *SP ] ")"; the list's own parameters are the caller's to read. */
function innerList(i: Input): boolean {
  i.pos++;
  for (;;) {
    i.skip(' ');
    if (i.ch() === ')') {
      i.pos++;
      return true;
    }
    if (!bareItem(i) || !parameters(i)) return false;
    if (i.ch() !== ' ' && i.ch() !== ')') return false;
  }
}

/** One dictionary member: its key and its value as written (bare item or inner list), parameters left out; no value: Boolean true. */
export interface DictionaryMember {
  key: string;
  value: string | undefined;
}

/** The members of `value`, in order, when it parses as an sf-dictionary (an empty value is an empty dictionary); else undefined. */
export function dictionaryMembers(value: string): DictionaryMember[] | undefined {
  const members: DictionaryMember[] = [];
  const i = new Input(value);
  i.skip(' ');
  if (i.done) return members;
  for (;;) {
    const keyStart = i.pos;
    if (!key(i)) return undefined;
    const k = value.slice(keyStart, i.pos);
    let v: string | undefined;
    if (i.ch() === '=') {
      i.pos++;
      const valueStart = i.pos;
      if (!(i.ch() === '(' ? innerList(i) : bareItem(i))) return undefined;
      v = value.slice(valueStart, i.pos);
    }
    if (!parameters(i)) return undefined;
    members.push({ key: k, value: v });
    i.skip(' \t');
    if (i.done) return members;
    if (i.ch() !== ',') return undefined;
    i.pos++;
    i.skip(' \t');
    // §4.2.2: a trailing comma is an error.
    if (i.done) return undefined;
  }
}

/** True when `value` parses as an sf-dictionary (an empty value is an empty dictionary). */
export function isStructuredDictionary(value: string): boolean {
  return dictionaryMembers(value) !== undefined;
}
