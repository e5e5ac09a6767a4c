/**
 * Every decimal of at most this many significant digits survives the trip to a 64-bit float
 * and back (DBL_DIG in C's <float.h>), within the range a literal without exponent can reach.
 */
export const MAX_EXACT_DIGITS = 15;

/**
 * Why the JSON number `literal` cannot be stored exactly, or undefined when it can.
 *
 * The store keeps a number as JSON.stringify writes its float: the shortest decimal that reads
 * back as the same float. The literal is exact when that decimal has the value written, which
 * holds for `0.1` (the float nearest to 0.1 is written back as 0.1), `1.0`, `1E+2` and `-0`
 * (stored as 0.1, 1, 100 and 0), and fails for 9007199254740993 (2^53 + 1) or 1e-400 (0).
 * The values are compared as decimals, never as floats or as text.
 */
export function inexactNumberReason(literal: string): string | undefined {
  const float = Number(literal);
  if (!Number.isFinite(float)) return 'Number is out of the range of a 64-bit float';
  const stored = String(float);
  // The same text is the common case: clients that write floats write them the same way.
  if (stored === literal || decimalValue(stored) === decimalValue(literal)) return undefined;
  return `Number cannot be stored exactly as a 64-bit float: it would become ${stored}`;
}

/**
 * A decimal number's value in one spelling: sign, significant digits without leading or
 * trailing zeros, and the power of ten of the last one (`-1.50e2` and `-150` are both
 * `-15e1`); zero, of either sign, is `0`. Takes JSON's number syntax and String(number)'s.
 */
function decimalValue(text: string): string {
  const negative = text.startsWith('-');
  let exponentAt = text.indexOf('e');
  if (exponentAt === -1) exponentAt = text.indexOf('E');
  const mantissa = text.slice(negative ? 1 : 0, exponentAt === -1 ? text.length : exponentAt);
  const dot = mantissa.indexOf('.');
  const digits = dot === -1 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  // JSON allows leading zeros in an exponent (1e007); Number() reads them, and the sign.
  let exponent =
    (exponentAt === -1 ? 0 : Number(text.slice(exponentAt + 1))) -
    (dot === -1 ? 0 : mantissa.length - dot - 1);
  let first = 0;
  while (first < digits.length && digits[first] === '0') first++;
  if (first === digits.length) return '0';
  let end = digits.length;
  while (digits[end - 1] === '0') {
    end--;
    exponent++;
  }
  return `${negative ? '-' : ''}${digits.slice(first, end)}e${exponent}`;
}
