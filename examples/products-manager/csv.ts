/** Why a CSV text could not be read; `line` is 1-based. */
export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/**
 * Parses RFC 4180 CSV (comma separator, `"` quoting with `""` escapes, LF or CRLF) into records whose
 * fields are named by the header line. Throws `CsvError` on an unterminated quote or a record whose
 * field count differs from the header's.
 */
export function parseCsv(text: string): Array<Record<string, string>> {
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  let line = 1;
  let quoteLine = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else {
        if (char === '\n') line++;
        field += char;
      }
    } else if (char === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else field += char;
  }
  if (quoted) throw new CsvError('a quoted field is not closed', quoteLine);
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  const nonEmpty = rows.filter((r) => !(r.length === 1 && r[0] === ''));
  const [header, ...records] = nonEmpty;
  if (!header) return [];
  const names = header.map((name) => name.trim());
  return records.map((record, i) => {
    if (record.length !== names.length) {
      throw new CsvError(`${record.length} fields where the header has ${names.length}`, i + 2);
    }
    return Object.fromEntries(names.map((name, j) => [name, record[j]!]));
  });
}
