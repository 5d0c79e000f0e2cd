//! The one error type of the readers: where (file, line, field) and what was expected.

use std::fmt;
use std::sync::Arc;

/// A reader's error: the input could not be read, or a line is malformed.
///
/// Displays as `file:line: field `f`: expected X, found `Y``, with the parts that are
/// known; the accessors give each part to programs.
pub struct ReadError {
    file: Arc<str>,
    line: u64,
    field: Option<String>,
    expected: String,
    found: Option<String>,
    io: Option<std::io::Error>,
    /// The 0-based row group of a Parquet file (`line` is then 1 + the row within it).
    row_group: Option<u32>,
    /// `expected` is a whole message (from serde), shown without "expected".
    verbatim: bool,
}

impl ReadError {
    /// An I/O failure while reading `file`.
    pub fn io(file: &Arc<str>, source: std::io::Error) -> ReadError {
        ReadError {
            file: file.clone(),
            line: 0,
            field: None,
            expected: String::new(),
            found: None,
            io: Some(source),
            row_group: None,
            verbatim: false,
        }
    }

    /// A malformed line: `file`, 1-based `line`, the field, what was expected and what was
    /// found (quoted and cut to 64 bytes). Input bytes in any part are escaped (`\0`,
    /// `\x1b`, `\u{feff}`): messages are safe to print on a terminal.
    pub fn parse(
        file: &Arc<str>,
        line: u64,
        field: Option<String>,
        expected: impl Into<String>,
        found: Option<&[u8]>,
    ) -> ReadError {
        let expected = expected.into();
        ReadError {
            file: file.clone(),
            line,
            field: field.map(|f| escape_str(&f).into_owned()),
            expected: escape_str(&expected).into_owned(),
            found: found.map(quote),
            io: None,
            row_group: None,
            verbatim: false,
        }
    }

    /// A malformed line described by a whole message (a deserializer's).
    pub(crate) fn message(
        file: &Arc<str>,
        line: u64,
        field: Option<String>,
        msg: String,
    ) -> ReadError {
        ReadError {
            verbatim: true,
            ..ReadError::parse(file, line, field, msg, None)
        }
    }

    /// Adds `by` to the line number of an error about a line.
    pub(crate) fn shift_line(mut self, by: u64) -> Self {
        if self.line > 0 {
            self.line += by;
        }
        self
    }

    /// Replaces what was found by a description of it (not quoted).
    pub(crate) fn with_found_text(mut self, found: String) -> Self {
        self.found = Some(escape_str(&found).into_owned());
        self
    }

    /// Places the error in a Parquet file's 0-based row group `group`, at the 0-based row
    /// `line - 1` within it.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn in_row_group(mut self, group: usize) -> Self {
        self.row_group = Some(u32::try_from(group).unwrap_or(u32::MAX));
        self
    }

    /// For a Parquet file, the 0-based row group; [`line`](Self::line) is then one more
    /// than the 0-based row within it (0 when the error is about the whole row group).
    pub fn row_group(&self) -> Option<u32> {
        self.row_group
    }

    /// The file (or the name given to a reader that is not a file).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line number, 0 when the error is not about a line (an I/O error).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The field of the line: `label`, `id of feature 3`, a CSV column name, ...
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What the reader expected there (for CSV and JSON, the deserializer's message).
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What it found instead (quoted), when that is a piece of text.
    pub fn found(&self) -> Option<&str> {
        self.found.as_deref()
    }
}

/// Quotes a token for a message: at most 64 bytes, [`escape`]d, `end of line` if empty.
fn quote(token: &[u8]) -> String {
    if token.is_empty() {
        return "end of line".into();
    }
    let cut = &token[..token.len().min(64)];
    let more = if token.len() > 64 { "..." } else { "" };
    format!("`{}{more}`", escape(cut))
}

/// Input bytes as message text: control characters, invisible ones (a byte-order mark,
/// zero-width and direction marks) and bytes that are not UTF-8 written as escapes
/// (`\0`, `\t`, `\x1b`, `\u{feff}`, `\xff`), so that a crafted file cannot put terminal
/// control codes on the screen or hide what is wrong. Every reader's message goes
/// through it. Backslashes are kept, so escaping twice changes nothing.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// [`escape`] of text.
pub(crate) fn escape_str(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| !needs_escape(c)) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_char(&mut out, c);
    }
    out.into()
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width spaces and joiners, direction marks
            | '\u{202a}'..='\u{202e}' // direction embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, isolates
            | '\u{feff}' // byte-order mark
            | '\u{fff9}'..='\u{fffb}') // interlinear annotations
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parts are escaped when made; the file name and I/O messages here.
        let file = escape_str(&self.file);
        if let Some(io) = &self.io {
            return write!(f, "{file}: {}", escape_str(&io.to_string()));
        }
        match self.row_group {
            Some(g) if self.line > 0 => {
                write!(f, "{file}: row group {g}, row {}: ", self.line - 1)?
            }
            Some(g) => write!(f, "{file}: row group {g}: ")?,
            None => write!(f, "{file}:{}: ", self.line)?,
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        if self.verbatim {
            return f.write_str(&self.expected);
        }
        write!(f, "expected {}", self.expected)?;
        if let Some(found) = &self.found {
            write!(f, ", found {found}")?;
        }
        Ok(())
    }
}

debug_as_message!(ReadError);

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io.as_ref().map(|e| e as _)
    }
}

/// A malformed line before the file and the line number are attached.
#[derive(Debug)]
pub struct LineError {
    pub field: Option<String>,
    pub expected: String,
    pub found: Option<Vec<u8>>,
}

impl LineError {
    pub fn new(field: impl Into<String>, expected: impl Into<String>, found: &[u8]) -> Self {
        LineError {
            field: Some(field.into()),
            expected: expected.into(),
            found: Some(found[..found.len().min(65)].to_vec()),
        }
    }

    pub(crate) fn at(self, file: &Arc<str>, line: u64) -> ReadError {
        ReadError::parse(file, line, self.field, self.expected, self.found.as_deref())
    }
}
