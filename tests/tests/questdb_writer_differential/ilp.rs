//! A decoder of ILP request bodies as QuestDB reads them, written from the protocol's rules and
//! independent of the backend's own line reader (`dal-backends/src/questdb/lines.rs`), so the
//! two cannot share a mistake.
//!
//! A line is `table[,symbol=value...] [column=value[,column=value...] ]timestamp\n`. Names and
//! symbol values escape space, `,`, `=`, newline, carriage return and backslash with a backslash;
//! strings are double-quoted and escape `"`, newline, carriage return and backslash. From protocol
//! version 2 a float is binary (`==`, type 16, eight little-endian bytes) and from version 3 a
//! decimal too (`==`, type 23, scale, length, big-endian two's complement mantissa), so a line
//! can hold any byte, newlines included: the body is read value by value, never split on `\n`.

use std::fmt;

/// One column value of a line, as QuestDB reads it (symbols are text, kept apart).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum IlpValue {
    /// A quoted string (VARCHAR, or text QuestDB parses into a UUID column).
    Str(String),
    /// `<n>i`.
    Int(i64),
    /// `t`/`f`/`true`/`false`.
    Bool(bool),
    /// A float's bits (binary, or text in protocol 1).
    F64(u64),
    /// `<micros>t`.
    Micros(i64),
    /// `<nanos>n`.
    Nanos(i64),
    /// A binary decimal: the mantissa and its scale.
    Decimal { mantissa: i128, scale: u8 },
}

impl fmt::Display for IlpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IlpValue::Str(s) => write!(f, "string {}", super::short(s)),
            IlpValue::Int(i) => write!(f, "{i}i"),
            IlpValue::Bool(b) => write!(f, "{b}"),
            IlpValue::F64(bits) => write!(f, "{:?} (bits {bits:#018x})", f64::from_bits(*bits)),
            IlpValue::Micros(m) => write!(f, "{m}t"),
            IlpValue::Nanos(n) => write!(f, "{n}n"),
            IlpValue::Decimal { mantissa, scale } => {
                match rust_decimal::Decimal::try_from_i128_with_scale(*mantissa, u32::from(*scale))
                {
                    Ok(d) => write!(f, "decimal {d} (scale {scale})"),
                    Err(_) => write!(f, "decimal {mantissa}e-{scale}"),
                }
            }
        }
    }
}

/// One line: the table, the symbols and columns in the order sent, the designated timestamp.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IlpLine {
    pub(super) table: String,
    pub(super) symbols: Vec<(String, String)>,
    pub(super) columns: Vec<(String, IlpValue)>,
    /// `<micros>t` or `<nanos>n` (protocol 1 sends nanoseconds without a unit).
    pub(super) at: IlpValue,
    /// The line's bytes (for messages).
    pub(super) raw: Vec<u8>,
}

/// ILP's binary type tags.
const BINARY_F64: u8 = 16;
const BINARY_DECIMAL: u8 = 23;

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("byte {}: {what}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, String> {
        match self.peek() {
            Some(c) => {
                self.pos += 1;
                Ok(c)
            }
            None => self.fail("the body ends inside a line"),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        match self.b.get(self.pos..self.pos + n) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.fail("the body ends inside a binary value"),
        }
    }

    /// Unquoted text up to the first unescaped byte of `stops`, unescaped.
    fn unquoted(&mut self, stops: &[u8]) -> Result<String, String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return self.fail("the body ends inside a name or symbol"),
                Some(c) if stops.contains(&c) => break,
                Some(b'\n') => return self.fail("an unescaped newline inside a name or symbol"),
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.byte()?);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).or_else(|_| self.fail("a name or symbol that is not UTF-8"))
    }

    /// A quoted string, the opening quote read.
    fn quoted(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        loop {
            match self.byte()? {
                b'"' => break,
                b'\\' => out.push(self.byte()?),
                c => out.push(c),
            }
        }
        String::from_utf8(out).or_else(|_| self.fail("a string that is not UTF-8"))
    }

    /// An unquoted scalar up to `,`, space or newline.
    fn token(&mut self) -> Result<&str, String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b' ' | b'\n') {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.b[start..self.pos]).or_else(|_| self.fail("a scalar"))
    }

    /// Whether the designated timestamp starts here: digits, an optional unit, the end of line.
    fn at_timestamp(&self) -> bool {
        let rest = &self.b[self.pos..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        digits > 0
            && match rest.get(digits) {
                Some(b'\n') => true,
                Some(b't' | b'n') => rest.get(digits + 1) == Some(&b'\n'),
                _ => false,
            }
    }
}

fn int(s: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("{s:?} is not an integer"))
}

/// A scalar token: a boolean, `<n>i`, `<micros>t`, `<nanos>n` or a float as text.
fn scalar(token: &str) -> Result<IlpValue, String> {
    Ok(match token {
        "t" | "T" | "true" | "True" => IlpValue::Bool(true),
        "f" | "F" | "false" | "False" => IlpValue::Bool(false),
        _ => {
            if let Some(i) = token.strip_suffix('i') {
                IlpValue::Int(int(i)?)
            } else if let Some(m) = token.strip_suffix('t') {
                IlpValue::Micros(int(m)?)
            } else if let Some(n) = token.strip_suffix('n') {
                IlpValue::Nanos(int(n)?)
            } else {
                let f: f64 = token
                    .parse()
                    .map_err(|_| format!("{token:?} is not a value"))?;
                IlpValue::F64(f.to_bits())
            }
        }
    })
}

/// A binary value, after `==`.
fn binary(c: &mut Cursor<'_>) -> Result<IlpValue, String> {
    match c.byte()? {
        BINARY_F64 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(c.take(8)?);
            Ok(IlpValue::F64(f64::from_le_bytes(bytes).to_bits()))
        }
        BINARY_DECIMAL => {
            let scale = c.byte()?;
            let len = usize::from(c.byte()?);
            let bytes = c.take(len)?;
            if bytes.is_empty() || bytes.len() > 16 {
                return c.fail("a decimal mantissa of 0 or more than 16 bytes");
            }
            // Sign-extend the big-endian two's complement mantissa to 16 bytes.
            let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
            let mut wide = [fill; 16];
            wide[16 - bytes.len()..].copy_from_slice(bytes);
            Ok(IlpValue::Decimal {
                mantissa: i128::from_be_bytes(wide),
                scale,
            })
        }
        other => c.fail(&format!("unknown binary type {other}")),
    }
}

fn line(c: &mut Cursor<'_>) -> Result<IlpLine, String> {
    let start = c.pos;
    let table = c.unquoted(b", ")?;
    let mut symbols = Vec::new();
    while c.peek() == Some(b',') {
        c.pos += 1;
        let name = c.unquoted(b"=")?;
        c.pos += 1;
        let value = c.unquoted(b", ")?;
        symbols.push((name, value));
    }
    if c.byte()? != b' ' {
        return c.fail("no space after the table and symbols");
    }
    let mut columns = Vec::new();
    if !c.at_timestamp() {
        loop {
            let name = c.unquoted(b"=")?;
            c.pos += 1;
            let value = match c.peek() {
                Some(b'"') => {
                    c.pos += 1;
                    IlpValue::Str(c.quoted()?)
                }
                Some(b'=') => {
                    c.pos += 1;
                    binary(c)?
                }
                _ => scalar(c.token()?)?,
            };
            columns.push((name, value));
            match c.byte()? {
                b',' => {}
                b' ' => break,
                _ => return c.fail("no `,` or space after a column"),
            }
        }
    }
    let at = c.token()?;
    let at = match at.strip_suffix('t') {
        Some(m) => IlpValue::Micros(int(m)?),
        None => IlpValue::Nanos(int(at.strip_suffix('n').unwrap_or(at))?),
    };
    if c.byte()? != b'\n' {
        return c.fail("no newline after the designated timestamp");
    }
    Ok(IlpLine {
        table,
        symbols,
        columns,
        at,
        raw: c.b[start..c.pos].to_vec(),
    })
}

/// Every line of a request body, in order.
///
/// # Errors
/// Where and why the body is not ILP as QuestDB reads it.
pub(super) fn parse_body(body: &[u8]) -> Result<Vec<IlpLine>, String> {
    let mut c = Cursor { b: body, pos: 0 };
    let mut lines = Vec::new();
    while c.pos < body.len() {
        lines.push(line(&mut c).map_err(|e| format!("line {}: {e}", lines.len() + 1))?);
    }
    Ok(lines)
}

#[test]
fn the_decoder_reads_every_form_the_writer_sends() {
    // Built by hand from the protocol's rules: a float whose bits hold a newline and a space, a
    // negative decimal of three bytes, escapes in symbols and strings, a line of symbols only.
    let mut body = Vec::new();
    body.extend_from_slice(b"t_1,s=x\\ y\\,z\\=w\\\n\\\r\\\\\xc3\xbc,e= ");
    body.extend_from_slice(b"q=\"a \\\"b\\\" \\\\ \\\n\\\r, = \xc3\xa9\",i=-7i,b=f,f==");
    body.push(16);
    body.extend_from_slice(&0x0A20_0A20_0A20_0A20u64.to_le_bytes());
    body.extend_from_slice(b",w=-5t,d==");
    body.extend_from_slice(&[23, 4, 3, 0xED, 0x29, 0xC0]);
    body.extend_from_slice(b" 1700000000000000001t\n");
    body.extend_from_slice(b"u,only=1 3t\n");
    let lines = parse_body(&body).expect("parse");
    assert_eq!(lines.len(), 2);
    let l = &lines[0];
    assert_eq!(l.table, "t_1");
    assert_eq!(
        l.symbols,
        [
            ("s".to_owned(), "x y,z=w\n\r\\ü".to_owned()),
            ("e".to_owned(), String::new())
        ]
    );
    assert_eq!(
        l.columns,
        [
            (
                "q".to_owned(),
                IlpValue::Str("a \"b\" \\ \n\r, = é".to_owned())
            ),
            ("i".to_owned(), IlpValue::Int(-7)),
            ("b".to_owned(), IlpValue::Bool(false)),
            ("f".to_owned(), IlpValue::F64(0x0A20_0A20_0A20_0A20)),
            ("w".to_owned(), IlpValue::Micros(-5)),
            (
                "d".to_owned(),
                IlpValue::Decimal {
                    mantissa: -1_234_496,
                    scale: 4
                }
            ),
        ]
    );
    assert_eq!(l.at, IlpValue::Micros(1_700_000_000_000_000_001));
    assert_eq!(lines[1].symbols, [("only".to_owned(), "1".to_owned())]);
    assert_eq!(lines[1].columns, []);
    assert_eq!(lines[1].at, IlpValue::Micros(3));
    for bad in [
        &b"t x=1i"[..],
        b"t x=\"open 1t\n",
        b"t x=zz 1t\n",
        b"t,s 1t\n",
    ] {
        assert!(parse_body(bad).is_err(), "{bad:?}");
    }
}
