//! Which message answers a request: the pairing rule.
//!
//! A zproto schema names messages and tags but not which one answers which
//! (in silly the user's code decides). `cluster` decides in this order:
//!
//! 1. `--oneway`: no response; the command returns once the request is sent.
//! 2. `--response NAME`: message `NAME`.
//! 3. A declaration in the schema: a comment line starting `# Responses:`
//!    followed by `request->response` pairs separated by `,` or `;`, as in
//!    silly's interop schema:
//!    `# Responses: ping->pong, add->sum; notify is one-way (no response).`
//!    Text without `->` is ignored. Once a schema declares pairs, every
//!    request it does not pair is one-way.
//! 4. Otherwise the message whose tag is the request's tag + 1, or one-way
//!    if there is none.

use cluster_codec::zproto::{Schema, StructId, is_valid_name};

/// The marker that starts a declaration, after `#` and spaces (any case).
const MARKER: &str = "responses:";

/// What a request gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A response decoded as this message.
    Message(StructId),
    /// Nothing: the request is one-way.
    OneWay,
}

/// The response pairs a schema declares in `# Responses:` comments.
#[derive(Debug, Clone, Default)]
pub struct Pairing {
    declared: Vec<(StructId, StructId)>,
}

/// A `# Responses:` pair that names something the schema does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PairingError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in bytes.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl Pairing {
    /// Reads the declarations in schema `text`, already parsed as `schema`.
    pub fn parse(schema: &Schema, text: &str) -> Result<Pairing, PairingError> {
        let mut pairing = Pairing::default();
        for (line_no, line) in text.lines().enumerate() {
            // zproto has no string literals: a `#` always starts a comment.
            let Some(hash) = line.find('#') else { continue };
            let comment = &line[hash + 1..];
            let body = comment.trim_start();
            let is_declaration = body
                .get(..MARKER.len())
                .is_some_and(|m| m.eq_ignore_ascii_case(MARKER));
            if !is_declaration {
                continue;
            }
            let start = hash + 1 + (comment.len() - body.len()) + MARKER.len();
            let mut at = start;
            for item in line[start..].split([',', ';']) {
                pairing.item(schema, item, line_no, at)?;
                at += item.len() + 1;
            }
        }
        Ok(pairing)
    }

    /// One `request->response` item starting at byte `at` of line `line_no`.
    fn item(
        &mut self,
        schema: &Schema,
        item: &str,
        line_no: usize,
        at: usize,
    ) -> Result<(), PairingError> {
        let Some((left, right)) = item.split_once("->") else {
            return Ok(());
        };
        let fail = |part: &str, message: String| {
            // Column of the name itself, past the spaces before it.
            let offset = part.as_ptr() as usize - item.as_ptr() as usize + part.len()
                - part.trim_start().len();
            PairingError {
                line: line_no as u32 + 1,
                column: (at + offset) as u32 + 1,
                message,
            }
        };
        let find = |part: &str| {
            let name = part.trim();
            if !is_valid_name(name) {
                return Err(fail(part, format!("'{name}' is not a message name")));
            }
            schema
                .find(name)
                .ok_or_else(|| fail(part, format!("no message '{name}' in the schema")))
        };
        let (request, response) = (find(left)?, find(right)?);
        if self.declared.iter().any(|&(r, _)| r == request) {
            let name = schema[request].name();
            return Err(fail(
                left,
                format!("the response of '{name}' is already declared"),
            ));
        }
        self.declared.push((request, response));
        Ok(())
    }

    /// Whether the schema declares any pair (then undeclared means one-way).
    pub fn is_declared(&self) -> bool {
        !self.declared.is_empty()
    }

    /// The requests declared to be answered by `response`.
    pub fn requests_answered_by(&self, response: StructId) -> impl Iterator<Item = StructId> + '_ {
        self.declared
            .iter()
            .filter(move |&&(_, r)| r == response)
            .map(|&(request, _)| request)
    }

    /// The reply to `request` by rules 3 and 4.
    pub fn reply_to(&self, schema: &Schema, request: StructId) -> Reply {
        if self.is_declared() {
            return self
                .declared
                .iter()
                .find(|&&(r, _)| r == request)
                .map_or(Reply::OneWay, |&(_, response)| Reply::Message(response));
        }
        schema[request]
            .tag()
            .checked_add(1)
            .and_then(|tag| schema.find_tag(tag))
            .map_or(Reply::OneWay, Reply::Message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTEROP: &str = include_str!("../../examples/silly_interop/interop.zproto");

    fn reply(schema: &Schema, pairing: &Pairing, request: &str) -> Option<String> {
        let id = schema.find(request).expect("request exists");
        match pairing.reply_to(schema, id) {
            Reply::Message(m) => Some(schema[m].name().to_owned()),
            Reply::OneWay => None,
        }
    }

    #[test]
    fn interop_declaration_pairs_requests_and_leaves_notify_one_way() {
        let schema = Schema::parse(INTEROP).expect("interop parses");
        let pairing = Pairing::parse(&schema, INTEROP).expect("declaration is valid");
        assert!(pairing.is_declared());
        for (request, response) in [
            ("ping", "pong"),
            ("add", "sum"),
            ("sleep", "slept"),
            ("stats", "counts"),
        ] {
            assert_eq!(reply(&schema, &pairing, request).as_deref(), Some(response));
        }
        // Its tag + 1 (stats) exists, but the declaration says one-way.
        assert_eq!(reply(&schema, &pairing, "notify"), None);
    }

    #[test]
    fn without_declaration_the_next_tag_answers() {
        let text = "a 1 { .x:int32 1 }\nb 2 { .x:int32 1 }\nc 7 { .x:int32 1 }";
        let schema = Schema::parse(text).expect("parses");
        let pairing = Pairing::parse(&schema, text).expect("no declaration");
        assert!(!pairing.is_declared());
        assert_eq!(reply(&schema, &pairing, "a").as_deref(), Some("b"));
        assert_eq!(reply(&schema, &pairing, "c"), None, "no tag 8: one-way");
    }

    #[test]
    fn ordinary_comments_declare_nothing() {
        let text =
            "# a -> b is how it goes\na 1 { .x:int32 1 } # Responses are below\nb 2 { .x:int32 1 }";
        let schema = Schema::parse(text).expect("parses");
        assert!(!Pairing::parse(&schema, text).expect("valid").is_declared());
    }

    #[test]
    fn a_pair_naming_a_missing_message_is_an_error_at_its_column() {
        let text = "a 1 { .x:int32 1 }\n  # responses: a->b,  a -> zz\n";
        let schema = Schema::parse(text).expect("parses");
        let err = Pairing::parse(&schema, text).expect_err("b is missing");
        assert_eq!(
            err.to_string(),
            "line 2, column 19: no message 'b' in the schema"
        );
    }

    #[test]
    fn a_request_paired_twice_is_an_error() {
        let text = "a 1 { .x:int32 1 }\nb 2 { .x:int32 1 }\n# Responses: a->b; a->a\n";
        let schema = Schema::parse(text).expect("parses");
        let err = Pairing::parse(&schema, text).expect_err("a twice");
        assert_eq!(
            err.to_string(),
            "line 3, column 20: the response of 'a' is already declared"
        );
    }
}
