//! Reading back the ILP lines of a staged batch, to send part of it again.
//!
//! When QuestDB refuses a batch because of what some row holds, the batch writer delivers every
//! other row by sending parts of the batch again (see [`crate::questdb::writer`]). A
//! `questdb::ingress::Buffer` can only be written through its typed calls, so a part is rebuilt
//! by reading each of its lines and writing the same calls into a new buffer. Only what
//! [`crate::questdb::encode_row`] writes is read: a table, symbols, then string, integer,
//! boolean, float (text in protocol 1, binary from 2), timestamp (`t`) and binary decimal
//! columns, then the designated timestamp. A line written again is the same bytes
//! (the tests check it on every kind and escape).

use std::fmt::Write as _;

use chrono::DateTime;
use dal::{EntityMeta, FieldKind};
use questdb::ingress::{
    Buffer, ColumnName, DecimalView, ProtocolVersion, TableName, TimestampMicros, TimestampNanos,
};
use rust_decimal::Decimal;

/// ILP binary type tags (after `=`), as questdb-rs writes them.
const BINARY_F64: u8 = 16;
const BINARY_DECIMAL: u8 = 23;

/// One value of a line.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Symbol(String),
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(String),
    Micros(i64),
    Decimal { scale: u8, mantissa: Vec<u8> },
}

/// The designated timestamp of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    Micros(i64),
    Nanos(i64),
}

/// One ILP line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    table: String,
    fields: Vec<(String, Field)>,
    at: At,
}

/// Why a line could not be read (a line `encode_row` did not write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable(pub(crate) &'static str);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unreadable ILP line: {}", self.0)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, Unreadable> {
        let c = self.peek().ok_or(Unreadable("truncated"))?;
        self.pos += 1;
        Ok(c)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Unreadable> {
        let end = self.pos.checked_add(n).ok_or(Unreadable("length"))?;
        let s = self.b.get(self.pos..end).ok_or(Unreadable("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    /// Unescaped text up to (not including) the first unescaped byte of `stops`.
    fn unescaped(&mut self, stops: &[u8]) -> Result<String, Unreadable> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(Unreadable("unterminated name or symbol")),
                Some(c) if stops.contains(&c) => break,
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.next()?);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| Unreadable("not UTF-8"))
    }

    /// A quoted string, the opening quote already read.
    fn quoted(&mut self) -> Result<String, Unreadable> {
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => out.push(self.next()?),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| Unreadable("string not UTF-8"))
    }

    /// An unescaped scalar token (number, boolean, timestamp) up to `,`, ` ` or the end of line.
    fn token(&mut self) -> Result<&str, Unreadable> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b' ' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| Unreadable("token"))
    }
}

fn int(s: &str) -> Result<i64, Unreadable> {
    s.parse().map_err(|_| Unreadable("integer"))
}

impl Line {
    /// Reads one line (with its final newline) as written into a buffer of `version`.
    pub(crate) fn parse(line: &[u8], version: ProtocolVersion) -> Result<Line, Unreadable> {
        let mut r = Reader { b: line, pos: 0 };
        let table = r.unescaped(b", ")?;
        let mut fields = Vec::new();
        while r.peek() == Some(b',') {
            r.pos += 1;
            let name = r.unescaped(b"=")?;
            r.pos += 1;
            let value = r.unescaped(b", ")?;
            fields.push((name, Field::Symbol(value)));
        }
        if r.next()? != b' ' {
            return Err(Unreadable("no space after the symbols"));
        }
        // Columns, unless the line has symbols only (then the timestamp follows at once).
        let symbols_only = !fields.is_empty() && is_timestamp_tail(&line[r.pos..]);
        if !symbols_only {
            loop {
                let name = r.unescaped(b"=")?;
                r.pos += 1;
                let value = match r.peek() {
                    Some(b'"') => {
                        r.pos += 1;
                        Field::Str(r.quoted()?)
                    }
                    Some(b'=') if version != ProtocolVersion::V1 => {
                        r.pos += 1;
                        match r.next()? {
                            BINARY_F64 => {
                                let mut bytes = [0u8; 8];
                                bytes.copy_from_slice(r.take(8)?);
                                Field::F64(f64::from_le_bytes(bytes))
                            }
                            BINARY_DECIMAL => {
                                let scale = r.next()?;
                                let len = usize::from(r.next()?);
                                Field::Decimal {
                                    scale,
                                    mantissa: r.take(len)?.to_vec(),
                                }
                            }
                            _ => return Err(Unreadable("binary type")),
                        }
                    }
                    _ => scalar(r.token()?)?,
                };
                fields.push((name, value));
                match r.next()? {
                    b',' => continue,
                    b' ' => break,
                    _ => return Err(Unreadable("column separator")),
                }
            }
        }
        let rest = std::str::from_utf8(&line[r.pos..]).map_err(|_| Unreadable("timestamp"))?;
        let rest = rest
            .strip_suffix('\n')
            .ok_or(Unreadable("no end of line"))?;
        let at = if let Some(m) = rest.strip_suffix('t') {
            At::Micros(int(m)?)
        } else if let Some(n) = rest.strip_suffix('n') {
            At::Nanos(int(n)?)
        } else if version == ProtocolVersion::V1 {
            At::Nanos(int(rest)?)
        } else {
            return Err(Unreadable("timestamp unit"));
        };
        Ok(Line { table, fields, at })
    }

    /// Writes the line into `buf` with the calls that wrote it first.
    pub(crate) fn write(&self, buf: &mut Buffer) -> questdb::Result<()> {
        buf.table(TableName::new_unchecked(&self.table))?;
        for (name, value) in &self.fields {
            let name = ColumnName::new_unchecked(name);
            match value {
                Field::Symbol(v) => buf.symbol(name, v)?,
                Field::Bool(v) => buf.column_bool(name, *v)?,
                Field::I64(v) => buf.column_i64(name, *v)?,
                Field::F64(v) => buf.column_f64(name, *v)?,
                Field::Str(v) => buf.column_str(name, v)?,
                Field::Micros(v) => buf.column_ts(name, TimestampMicros::new(*v))?,
                Field::Decimal { scale, mantissa } => buf.column_dec(
                    name,
                    DecimalView::try_new_scaled(u32::from(*scale), mantissa)?,
                )?,
            };
        }
        match self.at {
            At::Micros(m) => buf.at(TimestampMicros::new(m)),
            At::Nanos(n) => buf.at(TimestampNanos::new(n)),
        }
    }

    /// The table the line writes to.
    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// The row's ids and designated timestamp, for humans: `id=7, ts=2023-11-14T22:13:20Z`.
    pub(crate) fn key(&self, meta: &EntityMeta) -> String {
        let mut out = String::new();
        for f in meta.ids().filter(|f| !f.timestamp) {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(f.column);
            out.push('=');
            match self.fields.iter().find(|(n, _)| n == f.column) {
                Some((_, v)) => render(v, f.kind, &mut out),
                None => out.push_str("NULL"),
            }
        }
        if let Some(ts) = meta.timestamp() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let micros = match self.at {
                At::Micros(m) => m,
                At::Nanos(n) => n.div_euclid(1_000),
            };
            let _ = write!(out, "{}=", ts.column);
            render(&Field::Micros(micros), FieldKind::Timestamp, &mut out);
        }
        out
    }
}

/// Whether `rest` is only a designated timestamp and the end of line.
fn is_timestamp_tail(rest: &[u8]) -> bool {
    let Some(body) = rest.strip_suffix(b"\n") else {
        return false;
    };
    let body = body
        .strip_suffix(b"t")
        .or_else(|| body.strip_suffix(b"n"))
        .unwrap_or(body);
    !body.is_empty() && body.iter().all(u8::is_ascii_digit)
}

/// A scalar token: `t`/`f`, `<int>i`, `<micros>t`, or a float as text (protocol 1).
fn scalar(token: &str) -> Result<Field, Unreadable> {
    Ok(match token {
        "t" => Field::Bool(true),
        "f" => Field::Bool(false),
        _ => {
            if let Some(i) = token.strip_suffix('i') {
                Field::I64(int(i)?)
            } else if let Some(t) = token
                .strip_suffix('t')
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
            {
                Field::Micros(int(t)?)
            } else {
                Field::F64(token.parse().map_err(|_| Unreadable("float"))?)
            }
        }
    })
}

/// A value of a key column, for humans (long text cut short).
fn render(v: &Field, kind: FieldKind, out: &mut String) {
    match v {
        Field::Symbol(s) | Field::Str(s) => {
            let cut: String = s.chars().take(64).collect();
            let _ = write!(out, "{cut:?}");
            if cut.len() < s.len() {
                out.push('…');
            }
        }
        Field::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Field::I64(i) if kind == FieldKind::Bool => {
            let _ = write!(out, "{}", *i != 0);
        }
        Field::I64(i) => {
            let _ = write!(out, "{i}");
        }
        Field::F64(f) => {
            let _ = write!(out, "{f}");
        }
        Field::Micros(m) => match DateTime::from_timestamp_micros(*m) {
            Some(t) => {
                let _ = write!(out, "{}", t.to_rfc3339());
            }
            None => {
                let _ = write!(out, "{m}µs");
            }
        },
        Field::Decimal { scale, mantissa } => {
            // Sign-extend the big-endian two's complement mantissa.
            let fill = if mantissa.first().is_some_and(|b| b & 0x80 != 0) {
                0xFF
            } else {
                0
            };
            let mut bytes = [fill; 16];
            let n = mantissa.len().min(16);
            bytes[16 - n..].copy_from_slice(&mantissa[mantissa.len() - n..]);
            match Decimal::try_from_i128_with_scale(i128::from_be_bytes(bytes), u32::from(*scale)) {
                Ok(d) => {
                    let _ = write!(out, "{d}");
                }
                Err(_) => out.push_str("(decimal)"),
            }
        }
    }
}

/// Builds a buffer holding the lines `lines` of `batch` (byte ranges of whole lines).
pub(crate) fn rebuild(
    batch: &Buffer,
    lines: impl IntoIterator<Item = std::ops::Range<usize>>,
) -> Result<Buffer, String> {
    let version = batch.protocol_version();
    let bytes = batch.as_bytes();
    let mut out = Buffer::new(version);
    for range in lines {
        let line = bytes
            .get(range)
            .ok_or_else(|| "a row outside the batch".to_owned())?;
        let parsed = Line::parse(line, version).map_err(|e| e.to_string())?;
        parsed
            .write(&mut out)
            .map_err(|e| format!("cannot write a line again: {}", e.msg()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        version: ProtocolVersion,
        f: impl FnOnce(&mut Buffer) -> questdb::Result<()>,
    ) -> Buffer {
        let mut b = Buffer::new(version);
        f(&mut b).expect("line");
        b
    }

    #[test]
    fn every_form_is_written_again_byte_for_byte() {
        for version in [
            ProtocolVersion::V1,
            ProtocolVersion::V2,
            ProtocolVersion::V3,
        ] {
            let b = line(version, |b| {
                b.table("t_a")?
                    .symbol("s", "x y,z=w\n\r\\ü")?
                    .symbol("e", "")?
                    .column_str("q", "a \"b\" \\ \n\r, =")?
                    .column_i64("i", i64::MIN)?
                    .column_i64("j", 0)?
                    .column_bool("b", true)?
                    .column_bool("c", false)?
                    .column_f64("f", -0.0)?
                    .column_f64("g", 1.5e-300)?
                    .column_f64("h", f64::MAX)?
                    .column_ts("ts2", TimestampMicros::new(-5))?
                    .column_str("empty", "")?;
                if version == ProtocolVersion::V3 {
                    b.column_dec(
                        "d",
                        DecimalView::try_new_scaled(28, &[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])?,
                    )?;
                }
                b.at(TimestampMicros::new(1_700_000_000_000_001))
            });
            let again = rebuild(&b, std::iter::once(0..b.len())).expect("rebuild");
            assert_eq!(again.as_bytes(), b.as_bytes(), "{version:?}");
        }
    }

    #[test]
    fn lines_without_columns_or_symbols_and_several_lines() {
        for version in [ProtocolVersion::V1, ProtocolVersion::V3] {
            let b = line(version, |b| {
                b.table("a")?
                    .symbol("s", "1")?
                    .at(TimestampMicros::new(0))?;
                b.table("b")?
                    .column_f64("v", 2.0)?
                    .at(TimestampMicros::new(7))?;
                b.table("c")?
                    .symbol("s", "2")?
                    .column_str("x", "y")?
                    .at(TimestampMicros::new(9))
            });
            let bytes = b.as_bytes();
            let ends: Vec<usize> = bytes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1)
                .collect();
            assert_eq!(ends.len(), 3);
            let again = rebuild(&b, [0..ends[0], ends[1]..ends[2]]).expect("rebuild");
            let mut want = bytes[..ends[0]].to_vec();
            want.extend_from_slice(&bytes[ends[1]..ends[2]]);
            assert_eq!(again.as_bytes(), want.as_slice());
            assert_eq!(again.row_count(), 2);
        }
    }

    #[test]
    fn floats_as_text_round_trip_in_protocol_1() {
        for v in [
            0.1,
            -2.5e-7,
            1e21,
            f64::MIN_POSITIVE,
            123456789.125,
            f64::NAN,
            f64::INFINITY,
        ] {
            let b = line(ProtocolVersion::V1, |b| {
                b.table("t")?
                    .column_f64("f", v)?
                    .at(TimestampMicros::new(1))
            });
            let again = rebuild(&b, std::iter::once(0..b.len())).expect("rebuild");
            assert_eq!(again.as_bytes(), b.as_bytes(), "{v}");
        }
    }

    #[test]
    fn garbage_is_refused_not_misread() {
        for bad in [
            &b"t"[..],
            b"t x=1i",
            b"t x=\"open 1\n",
            b"t x=1i 12",
            b"t x=zz 1\n",
        ] {
            assert!(Line::parse(bad, ProtocolVersion::V1).is_err(), "{bad:?}");
        }
    }
}
