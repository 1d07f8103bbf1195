//! Word expansion (POSIX XCU §2.6): tilde, parameters, command
//! substitution, arithmetic, field splitting, pathname expansion and quote
//! removal, over the pieces brush-parser finds in a word.

use std::future::Future;
use std::pin::Pin;

use brush_parser::ast;
use brush_parser::word::{Parameter, ParameterExpr, ParameterTestType, SpecialParameter, TildeExpr, WordPiece};

use super::Sh;
use crate::kern::proc::{Proc, Stdio};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How a piece of text came to be: it decides splitting and globbing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Q {
    /// Unquoted literal text: globbed, not split.
    Lit,
    /// Quoted: neither.
    Quoted,
    /// The unquoted result of an expansion: split and globbed.
    Split,
}

/// A word during expansion: its fields, each a run of segments.
#[derive(Default, Debug)]
pub struct Fields {
    done: Vec<Vec<(String, Q)>>,
    cur: Vec<(String, Q)>,
}

impl Fields {
    fn push(&mut self, s: impl Into<String>, q: Q) {
        self.cur.push((s.into(), q));
    }

    /// End the current field (between the words of "$@").
    fn brk(&mut self) {
        self.done.push(std::mem::take(&mut self.cur));
    }

    fn finish(mut self) -> Vec<Vec<(String, Q)>> {
        self.brk();
        self.done
    }
}

/// What an expansion is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Words of a command: split into fields and globbed.
    Fields,
    /// One string (assignments, redirections, `case` words).
    Single,
    /// A pattern (`case`, `${x#pat}`): quoted characters match themselves.
    Pattern,
}

/// The characters that make a word a pathname pattern.
fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Does `text` match shell pattern `pat` (fnmatch(3) without flags)?
pub fn pattern_match(pat: &str, text: &str) -> bool {
    match glob::Pattern::new(pat) {
        Ok(p) => p.matches_with(
            text,
            glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: false,
                require_literal_leading_dot: false,
            },
        ),
        Err(_) => pat == text,
    }
}

fn options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        enable_extended_globbing: false,
        ..Default::default()
    }
}

impl Sh {
    /// Expand a word as `mode` says: the fields it makes (one in
    /// `Single` and `Pattern` modes).
    pub fn expand<'a>(
        &'a mut self,
        p: &'a Proc,
        io: &'a Stdio,
        word: &'a str,
        mode: Mode,
    ) -> Boxed<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let pieces = brush_parser::word::parse(word, &options()).map_err(|e| format!("syntax error: {e}"))?;
            let mut f = Fields::default();
            for pw in &pieces {
                self.piece(p, io, &pw.piece, false, &mut f).await?;
            }
            let fields = f.finish();
            Ok(match mode {
                Mode::Fields => self.split_and_glob(fields),
                Mode::Single => vec![
                    fields
                        .iter()
                        .map(|f| f.iter().map(|(s, _)| s.as_str()).collect::<String>())
                        .collect::<Vec<_>>()
                        .join(" "),
                ],
                Mode::Pattern => vec![
                    fields
                        .iter()
                        .flatten()
                        .map(|(s, q)| match q {
                            Q::Quoted => glob::Pattern::escape(s),
                            _ => s.clone(),
                        })
                        .collect::<String>(),
                ],
            })
        })
    }

    /// One string: a word expanded without splitting or globbing.
    pub async fn expand_one(&mut self, p: &Proc, io: &Stdio, word: &str) -> Result<String, String> {
        Ok(self.expand(p, io, word, Mode::Single).await?.concat())
    }

    /// A here-document's body: parameters, commands and arithmetic
    /// expanded; quotes are plain characters.
    pub async fn expand_heredoc(&mut self, p: &Proc, io: &Stdio, doc: &str) -> Result<String, String> {
        let pieces = brush_parser::word::parse_heredoc(doc, &options()).map_err(|e| format!("syntax error: {e}"))?;
        let mut f = Fields::default();
        for pw in &pieces {
            self.piece(p, io, &pw.piece, true, &mut f).await?;
        }
        Ok(f.finish().iter().flatten().map(|(s, _)| s.as_str()).collect())
    }

    fn piece<'a>(
        &'a mut self,
        p: &'a Proc,
        io: &'a Stdio,
        piece: &'a WordPiece,
        quoted: bool,
        f: &'a mut Fields,
    ) -> Boxed<'a, Result<(), String>> {
        Box::pin(async move {
            let eq = if quoted { Q::Quoted } else { Q::Split };
            match piece {
                WordPiece::Text(s) => f.push(s.clone(), if quoted { Q::Quoted } else { Q::Lit }),
                WordPiece::SingleQuotedText(s) => f.push(s.clone(), Q::Quoted),
                WordPiece::AnsiCQuotedText(s) => f.push(ansi_c(s), Q::Quoted),
                WordPiece::EscapeSequence(s) => {
                    let c = s.strip_prefix('\\').unwrap_or(s);
                    // Inside double quotes a backslash only escapes $ ` " \ and newline.
                    let keep = quoted && !matches!(c, "$" | "`" | "\"" | "\\" | "\n");
                    let text = if keep { s.clone() } else { c.to_string() };
                    f.push(if c == "\n" && !keep { String::new() } else { text }, Q::Quoted);
                }
                WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    f.push(String::new(), Q::Quoted);
                    for pw in inner {
                        self.piece(p, io, &pw.piece, true, f).await?;
                    }
                }
                WordPiece::TildeExpansion(t) => match t {
                    TildeExpr::Home => f.push(self.get("HOME").unwrap_or_default(), Q::Quoted),
                    TildeExpr::WorkingDir => f.push(self.cwd.display().to_string(), Q::Quoted),
                    TildeExpr::UserHome(u) => f.push(format!("~{u}"), Q::Lit),
                    _ => f.push("~", Q::Lit),
                },
                WordPiece::ParameterExpansion(pe) => self.parameter_expr(p, io, pe, quoted, f).await?,
                WordPiece::CommandSubstitution(cmd) | WordPiece::BackquotedCommandSubstitution(cmd) => {
                    let out = self.capture(p, io, cmd).await;
                    f.push(out.trim_end_matches('\n').to_string(), eq);
                }
                WordPiece::ArithmeticExpression(e) => {
                    let n = self.arith_str(p, io, e).await?;
                    f.push(n.to_string(), eq);
                }
            }
            Ok(())
        })
    }

    /// `$(...)`: run `cmd` in a subshell and give what it printed; its
    /// status becomes `$?`.
    pub async fn capture(&mut self, p: &Proc, io: &Stdio, cmd: &str) -> String {
        let (out, buf) = crate::kern::proc::Out::buffer();
        let sub_io = Stdio {
            stdin: io.stdin.clone(),
            stdout: out,
            stderr: io.stderr.clone(),
        };
        let mut sub = self.subshell();
        let st = match sub.run_text(p, cmd, &sub_io).await {
            Ok(s) => s,
            Err(super::Flow::Exit(s) | super::Flow::Return(s)) => s,
            Err(_) => sub.last,
        };
        self.last = st;
        self.subst_status = Some(st);
        String::from_utf8_lossy(&buf.borrow()).into_owned()
    }

    /// The value of a parameter, if it is set.
    pub fn param(&self, prm: &Parameter) -> Option<String> {
        match prm {
            Parameter::Positional(0) => Some(self.arg0.clone()),
            Parameter::Positional(n) => self.args.get(*n as usize - 1).cloned(),
            Parameter::Named(name) => self.get(name),
            Parameter::NamedWithIndex { name, .. } | Parameter::NamedWithAllIndices { name, .. } => self.get(name),
            Parameter::Special(s) => Some(match s {
                SpecialParameter::AllPositionalParameters { .. } => self.args.join(" "),
                SpecialParameter::PositionalParameterCount => self.args.len().to_string(),
                SpecialParameter::LastExitStatus => self.last.to_string(),
                SpecialParameter::CurrentOptionFlags => self.flags(),
                SpecialParameter::ProcessId => self.pid.to_string(),
                SpecialParameter::LastBackgroundProcessId => return self.last_bg.map(|x| x.to_string()),
                SpecialParameter::ShellName => self.arg0.clone(),
            }),
        }
    }

    fn param_name(prm: &Parameter) -> String {
        match prm {
            Parameter::Positional(n) => n.to_string(),
            Parameter::Named(n) => n.clone(),
            Parameter::NamedWithIndex { name, .. } | Parameter::NamedWithAllIndices { name, .. } => name.clone(),
            Parameter::Special(s) => s.to_string(),
        }
    }

    /// A parameter's value, with `set -u`'s check.
    fn value(&self, prm: &Parameter) -> Result<Option<String>, String> {
        let v = self.param(prm);
        if v.is_none() && self.nounset && !matches!(prm, Parameter::Special(_)) {
            return Err(format!("{}: parameter not set", Sh::param_name(prm)));
        }
        Ok(v)
    }

    /// Expand a nested word (`${x:-word}`) into `f`, quoted as we are.
    async fn nested(&mut self, p: &Proc, io: &Stdio, word: &str, quoted: bool, f: &mut Fields) -> Result<(), String> {
        let pieces = brush_parser::word::parse(word, &options()).map_err(|e| format!("syntax error: {e}"))?;
        for pw in &pieces {
            self.piece(p, io, &pw.piece, quoted, f).await?;
        }
        Ok(())
    }

    /// A nested word as one string.
    async fn nested_str(&mut self, p: &Proc, io: &Stdio, word: &str, mode: Mode) -> Result<String, String> {
        Ok(self.expand(p, io, word, mode).await?.concat())
    }

    async fn parameter_expr(
        &mut self,
        p: &Proc,
        io: &Stdio,
        pe: &ParameterExpr,
        quoted: bool,
        f: &mut Fields,
    ) -> Result<(), String> {
        let eq = if quoted { Q::Quoted } else { Q::Split };
        let unset = |v: &Option<String>, t: &ParameterTestType| match t {
            ParameterTestType::UnsetOrNull => v.as_ref().is_none_or(String::is_empty),
            ParameterTestType::Unset => v.is_none(),
        };
        match pe {
            ParameterExpr::Parameter { parameter, .. } => {
                if let (Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate: false }), true) =
                    (parameter, quoted)
                {
                    // "$@": a field for each argument.
                    for (i, a) in self.args.clone().iter().enumerate() {
                        if i > 0 {
                            f.brk();
                        }
                        f.push(a.clone(), Q::Quoted);
                    }
                    return Ok(());
                }
                let v = self.value(parameter)?;
                f.push(v.unwrap_or_default(), eq);
            }
            ParameterExpr::UseDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            }
            | ParameterExpr::AssignDefaultValues {
                parameter,
                test_type,
                default_value,
                ..
            } => {
                let v = self.param(parameter);
                let dflt = default_value.as_deref().unwrap_or("");
                match (
                    unset(&v, test_type),
                    matches!(pe, ParameterExpr::AssignDefaultValues { .. }),
                ) {
                    (false, _) => f.push(v.unwrap_or_default(), eq),
                    (true, false) => self.nested(p, io, dflt, quoted, f).await?,
                    (true, true) => {
                        let d = self.nested_str(p, io, dflt, Mode::Single).await?;
                        match parameter {
                            Parameter::Named(n) => self.set(n, &d),
                            other => return Err(format!("{}: cannot assign in this way", Sh::param_name(other))),
                        }
                        f.push(d, eq);
                    }
                }
            }
            ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                test_type,
                error_message,
                ..
            } => {
                let v = self.param(parameter);
                if unset(&v, test_type) {
                    let m = match error_message {
                        Some(m) if !m.is_empty() => self.nested_str(p, io, m, Mode::Single).await?,
                        _ => "parameter null or not set".into(),
                    };
                    return Err(format!("{}: {m}", Sh::param_name(parameter)));
                }
                f.push(v.unwrap_or_default(), eq);
            }
            ParameterExpr::UseAlternativeValue {
                parameter,
                test_type,
                alternative_value,
                ..
            } => {
                let v = self.param(parameter);
                if !unset(&v, test_type) {
                    self.nested(p, io, alternative_value.as_deref().unwrap_or(""), quoted, f)
                        .await?;
                }
            }
            ParameterExpr::ParameterLength { parameter, .. } => {
                let v = self.value(parameter)?.unwrap_or_default();
                f.push(v.chars().count().to_string(), eq);
            }
            ParameterExpr::RemoveSmallestSuffixPattern { parameter, pattern, .. }
            | ParameterExpr::RemoveLargestSuffixPattern { parameter, pattern, .. }
            | ParameterExpr::RemoveSmallestPrefixPattern { parameter, pattern, .. }
            | ParameterExpr::RemoveLargestPrefixPattern { parameter, pattern, .. } => {
                let v = self.value(parameter)?.unwrap_or_default();
                let pat = self
                    .nested_str(p, io, pattern.as_deref().unwrap_or(""), Mode::Pattern)
                    .await?;
                let (suffix, largest) = match pe {
                    ParameterExpr::RemoveSmallestSuffixPattern { .. } => (true, false),
                    ParameterExpr::RemoveLargestSuffixPattern { .. } => (true, true),
                    ParameterExpr::RemoveSmallestPrefixPattern { .. } => (false, false),
                    _ => (false, true),
                };
                f.push(remove_pattern(&v, &pat, suffix, largest), eq);
            }
            _ => return Err("bad substitution".into()),
        }
        Ok(())
    }

    /// Split fields on `IFS` and expand pathname patterns.
    fn split_and_glob(&self, fields: Vec<Vec<(String, Q)>>) -> Vec<String> {
        let ifs = self.get("IFS").unwrap_or_else(|| " \t\n".into());
        let mut out = Vec::new();
        for field in fields {
            // Each piece of a field: (pattern text, literal text, globbable).
            let mut cur: Option<(String, String)> = None;
            let mut words: Vec<(String, String)> = Vec::new();
            for (s, q) in field {
                match q {
                    Q::Split if !ifs.is_empty() => {
                        let mut first = true;
                        for part in s.split(|c| ifs.contains(c)) {
                            if !first && let Some(w) = cur.take() {
                                words.push(w);
                            }
                            first = false;
                            if !part.is_empty() {
                                let c = cur.get_or_insert_with(Default::default);
                                c.0.push_str(part);
                                c.1.push_str(part);
                            }
                        }
                    }
                    Q::Quoted => {
                        let c = cur.get_or_insert_with(Default::default);
                        c.0.push_str(&glob::Pattern::escape(&s));
                        c.1.push_str(&s);
                    }
                    _ => {
                        let c = cur.get_or_insert_with(Default::default);
                        c.0.push_str(&s);
                        c.1.push_str(&s);
                    }
                }
            }
            words.extend(cur);
            for (pat, lit) in words {
                out.extend(self.glob(&pat, lit));
            }
        }
        out
    }

    /// Pathname expansion of one field: its matches, sorted, or itself.
    fn glob(&self, pat: &str, lit: String) -> Vec<String> {
        if !has_glob(pat) || self.noglob {
            return vec![lit];
        }
        let full = if pat.starts_with('/') {
            pat.to_string()
        } else {
            format!("{}/{pat}", glob::Pattern::escape(&self.cwd.display().to_string()))
        };
        let prefix = format!("{}/", self.cwd.display());
        let mut found: Vec<String> = match glob::glob(&full) {
            Ok(paths) => paths
                .flatten()
                .map(|p| {
                    let s = p.display().to_string();
                    if pat.starts_with('/') {
                        s
                    } else {
                        s.strip_prefix(&prefix).unwrap_or(&s).to_string()
                    }
                })
                .collect(),
            Err(_) => vec![],
        };
        if found.is_empty() {
            return vec![lit];
        }
        found.sort();
        found
    }

    /// `$((...))`: expand, parse, evaluate.
    pub(super) async fn arith_str(
        &mut self,
        p: &Proc,
        io: &Stdio,
        e: &ast::UnexpandedArithmeticExpr,
    ) -> Result<i64, String> {
        let text = self.expand_heredoc(p, io, &e.value).await?;
        let expr = brush_parser::arithmetic::parse(&text)
            .map_err(|_| format!("arithmetic expression: syntax error: \"{text}\""))?;
        self.arith(&expr)
    }

    /// Evaluate an arithmetic expression (XCU §2.6.4, with C's operators).
    pub fn arith(&mut self, e: &ast::ArithmeticExpr) -> Result<i64, String> {
        use ast::{ArithmeticExpr as E, BinaryOperator as B, UnaryAssignmentOperator as UA, UnaryOperator as U};
        Ok(match e {
            E::Literal(n) => *n,
            E::Reference(t) => self.arith_var(t)?,
            E::UnaryOp(op, x) => {
                let v = self.arith(x)?;
                match op {
                    U::UnaryPlus => v,
                    U::UnaryMinus => v.wrapping_neg(),
                    U::BitwiseNot => !v,
                    U::LogicalNot => i64::from(v == 0),
                }
            }
            E::BinaryOp(B::LogicalAnd, a, b) => i64::from(self.arith(a)? != 0 && self.arith(b)? != 0),
            E::BinaryOp(B::LogicalOr, a, b) => i64::from(self.arith(a)? != 0 || self.arith(b)? != 0),
            E::BinaryOp(op, a, b) => {
                let (x, y) = (self.arith(a)?, self.arith(b)?);
                binop(op, x, y)?
            }
            E::Conditional(c, a, b) => {
                if self.arith(c)? != 0 {
                    self.arith(a)?
                } else {
                    self.arith(b)?
                }
            }
            E::Assignment(t, x) => {
                let v = self.arith(x)?;
                self.arith_set(t, v);
                v
            }
            E::BinaryAssignment(op, t, x) => {
                let v = binop(op, self.arith_var(t)?, self.arith(x)?)?;
                self.arith_set(t, v);
                v
            }
            E::UnaryAssignment(op, t) => {
                let old = self.arith_var(t)?;
                let new = match op {
                    UA::PrefixIncrement | UA::PostfixIncrement => old.wrapping_add(1),
                    _ => old.wrapping_sub(1),
                };
                self.arith_set(t, new);
                match op {
                    UA::PrefixIncrement | UA::PrefixDecrement => new,
                    _ => old,
                }
            }
        })
    }

    fn arith_var(&mut self, t: &ast::ArithmeticTarget) -> Result<i64, String> {
        let name = match t {
            ast::ArithmeticTarget::Variable(n) | ast::ArithmeticTarget::ArrayElement(n, _) => n,
        };
        let v = self.get(name).unwrap_or_default();
        let v = v.trim();
        if v.is_empty() {
            return Ok(0);
        }
        parse_int(v).ok_or_else(|| format!("arithmetic expression: expecting primary: \"{v}\""))
    }

    fn arith_set(&mut self, t: &ast::ArithmeticTarget, v: i64) {
        let (ast::ArithmeticTarget::Variable(n) | ast::ArithmeticTarget::ArrayElement(n, _)) = t;
        self.set(n, &v.to_string());
    }
}

/// A decimal, octal (0...) or hexadecimal (0x...) integer.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn binop(op: &ast::BinaryOperator, x: i64, y: i64) -> Result<i64, String> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Power => x.wrapping_pow(y.clamp(0, u32::MAX as i64) as u32),
        B::Multiply => x.wrapping_mul(y),
        B::Divide | B::Modulo if y == 0 => return Err("arithmetic expression: division by zero".into()),
        B::Divide => x.wrapping_div(y),
        B::Modulo => x.wrapping_rem(y),
        B::Comma => y,
        B::Add => x.wrapping_add(y),
        B::Subtract => x.wrapping_sub(y),
        B::ShiftLeft => x.wrapping_shl(y as u32),
        B::ShiftRight => x.wrapping_shr(y as u32),
        B::LessThan => i64::from(x < y),
        B::LessThanOrEqualTo => i64::from(x <= y),
        B::GreaterThan => i64::from(x > y),
        B::GreaterThanOrEqualTo => i64::from(x >= y),
        B::Equals => i64::from(x == y),
        B::NotEquals => i64::from(x != y),
        B::BitwiseAnd => x & y,
        B::BitwiseXor => x ^ y,
        B::BitwiseOr => x | y,
        B::LogicalAnd => i64::from(x != 0 && y != 0),
        B::LogicalOr => i64::from(x != 0 || y != 0),
    })
}

/// `${v%pat}` and friends.
fn remove_pattern(v: &str, pat: &str, suffix: bool, largest: bool) -> String {
    let idx: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    let cands: Vec<usize> = if suffix == largest {
        idx.clone()
    } else {
        idx.iter().rev().copied().collect()
    };
    for &i in &cands {
        if suffix && pattern_match(pat, &v[i..]) {
            return v[..i].to_string();
        }
        if !suffix && pattern_match(pat, &v[..i]) {
            return v[i..].to_string();
        }
    }
    v.to_string()
}

/// `$'...'`: the C escapes.
fn ansi_c(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('e') => out.push('\x1b'),
            Some('0') => out.push('\0'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_removal() {
        assert!(pattern_match("ep*", "epair0a"));
        assert!(!pattern_match("ep?", "epair0a"));
        assert!(pattern_match("[ab]*", "bridge0"));
        assert_eq!(remove_pattern("file.tar.gz", ".*", true, false), "file.tar");
        assert_eq!(remove_pattern("file.tar.gz", ".*", true, true), "file");
        assert_eq!(remove_pattern("/a/b/c", "*/", false, false), "a/b/c");
        assert_eq!(remove_pattern("/a/b/c", "*/", false, true), "c");
        assert_eq!(parse_int("0x1f"), Some(31));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("-5"), Some(-5));
    }
}
