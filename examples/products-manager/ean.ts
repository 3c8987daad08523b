/** The EAN-13 whose first 12 digits are `base` (zero-padded), with its check digit (weights 1, 3, 1, 3…). */
export function ean13(base: number): string {
  const digits = String(base).padStart(12, '0');
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 1 : 3);
  return digits + String((10 - (sum % 10)) % 10);
}

/** Whether `code` is an EAN-13: 13 digits whose last one is the check digit of the first 12. */
export function isValidEan13(code: string): boolean {
  return /^\d{13}$/.test(code) && ean13(Number(code.slice(0, 12))) === code;
}
