//! Reading a packetdrill script (nplab's grammar, `parser.y`, as
//! FreeBSD's tcp-testsuite uses it): options, `//` and `/* */`
//! comments, `#ifdef FreeBSD`, times, backquoted commands, system calls,
//! TCP and ICMP packet lines, `%{ }%` code. An error names its line.

use std::fmt;

use super::script::{Body, Call, Dir, Ecn, Event, Expr, Icmp, IpFields, Packet, Script, Tcp, TcpOpt, What, When};

/// What could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.msg)
    }
}

type Res<T> = Result<T, String>;

/// Read a whole script.
pub fn parse(text: &str) -> Result<Script, ParseError> {
    let mut s = Script::default();
    let lines = preprocess(text).map_err(|(line, msg)| ParseError { line, msg })?;
    for (line, l) in lines {
        let err = |msg: String| ParseError { line, msg };
        if let Some(opt) = l.strip_prefix("--") {
            if !s.events.is_empty() {
                return Err(err("an option after the first event".into()));
            }
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            s.options.push((k.trim().to_string(), v.trim().to_string()));
        } else if l.starts_with('`') {
            let c = command(&l).map_err(err)?;
            if s.events.is_empty() && s.init.is_none() {
                s.init = Some(c);
            } else {
                s.cleanup = Some(c);
            }
        } else {
            if s.cleanup.is_some() {
                return Err(err("an event after the cleanup command".into()));
            }
            let (when, rest) = when(&l).map_err(err)?;
            let what = what(rest.trim()).map_err(err)?;
            s.events.push(Event { line, when, what });
        }
    }
    Ok(s)
}

/// The lines that are not comments, with their numbers: `/* */` and
/// `//` gone, `#ifdef FreeBSD` kept and `#ifdef` anything else dropped,
/// a `%{ }%` block and a backquoted command over several lines each made
/// one line.
fn preprocess(text: &str) -> Result<Vec<(usize, String)>, (usize, String)> {
    // Block comments first, keeping the newlines so lines keep their numbers.
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        plain.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("*/") else {
            let line = plain.lines().count().max(1);
            return Err((line, "a comment that does not end".into()));
        };
        plain.extend(rest[i..i + j].chars().filter(|&c| c == '\n'));
        rest = &rest[i + j + 2..];
    }
    plain.push_str(rest);
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut skipping: Option<bool> = None;
    let mut code: Option<(usize, String)> = None;
    let mut tick: Option<(usize, String)> = None;
    for (n, raw) in plain.lines().enumerate() {
        let n = n + 1;
        if let Some((at, c)) = &mut tick {
            c.push('\n');
            c.push_str(raw);
            if raw.matches('`').count() % 2 == 1 {
                out.push((*at, strip_line_comment(c).trim().to_string()));
                tick = None;
            }
            continue;
        }
        if let Some((at, c)) = &mut code {
            c.push('\n');
            c.push_str(raw);
            if raw.contains("}%") {
                out.push((*at, std::mem::take(c)));
                code = None;
            }
            continue;
        }
        let l = strip_line_comment(raw).trim();
        if let Some(name) = l.strip_prefix("#ifdef") {
            if skipping.is_some() {
                return Err((n, "#ifdef inside #ifdef".into()));
            }
            skipping = Some(name.trim() != "FreeBSD");
            continue;
        }
        if l == "#endif" {
            if skipping.take().is_none() {
                return Err((n, "#endif without #ifdef".into()));
            }
            continue;
        }
        if l.is_empty() || skipping == Some(true) {
            continue;
        }
        if l.contains("%{") && !l.contains("}%") {
            code = Some((n, l.to_string()));
            continue;
        }
        if raw.matches('`').count() % 2 == 1 {
            tick = Some((n, raw.to_string()));
            continue;
        }
        out.push((n, l.to_string()));
    }
    if let Some((at, _)) = code {
        return Err((at, "a %{ code block that does not end".into()));
    }
    if let Some((at, _)) = tick {
        return Err((at, "a command must end with a backquote".into()));
    }
    if skipping.is_some() {
        return Err((plain.lines().count(), "#ifdef without #endif".into()));
    }
    Ok(out)
}

/// The line without its `//` comment (not one inside backquotes or quotes).
fn strip_line_comment(l: &str) -> &str {
    let (mut tick, mut quote) = (false, false);
    let b = l.as_bytes();
    for (i, &ch) in b.iter().enumerate() {
        match ch {
            b'`' if !quote => tick = !tick,
            b'"' if !tick => quote = !quote,
            b'/' if !tick && !quote && b.get(i + 1) == Some(&b'/') => return &l[..i],
            _ => {}
        }
    }
    l
}

/// `` `cmd` ``: the command.
fn command(l: &str) -> Res<String> {
    let inner = l.strip_prefix('`').and_then(|r| r.strip_suffix('`'));
    inner
        .map(str::to_string)
        .ok_or_else(|| format!("a command must end with a backquote: {l}"))
}

/// Seconds as written (`1`, `0.100`, `.5`) in microseconds.
fn usecs(s: &str) -> Res<i64> {
    let bad = || format!("bad time: {s}");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty()) || frac.len() > 6 {
        return Err(bad());
    }
    let digits = |d: &str| d.is_empty() || d.bytes().all(|c| c.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(bad());
    }
    let i: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().map_err(|_| bad())?
    };
    i.checked_mul(1_000_000).and_then(|x| x.checked_add(f)).ok_or_else(bad)
}

/// The time an event line starts with, and the rest of the line.
fn when(l: &str) -> Res<(When, &str)> {
    if let Some(rest) = l.strip_prefix('*') {
        return Ok((When::Any, rest));
    }
    // One time: `+`, spaces, digits and a point.
    let one = |s: &str| -> Res<(bool, i64, usize)> {
        let rel = s.starts_with('+');
        let body = s.trim_start_matches('+');
        let skip = s.len() - body.len();
        let body_t = body.trim_start();
        let skip = skip + body.len() - body_t.len();
        let n = body_t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body_t.len());
        // `1.00...6.00`: the number stops before `...`.
        let n = body_t[..n].find("..").unwrap_or(n);
        Ok((rel, usecs(&body_t[..n])?, skip + n))
    };
    let (rel, t, n) = one(l)?;
    let rest = &l[n..];
    for sep in ["...", "~"] {
        if let Some(r) = rest.strip_prefix(sep) {
            let (_, t2, n2) = one(r)?;
            return Ok((When::Span(t, t2, rel), &r[n2..]));
        }
    }
    Ok((if rel { When::After(t) } else { When::At(t) }, rest))
}

/// What an event line does, after its time.
fn what(rest: &str) -> Res<What> {
    if rest.starts_with('`') {
        return command(rest).map(What::Command);
    }
    if let Some(code) = rest.strip_prefix("%{") {
        let code = code.rsplit_once("}%").map_or(code, |c| c.0);
        return Ok(What::Code(code.trim().to_string()));
    }
    match rest.chars().next() {
        Some('<') => packet(Dir::In, &rest[1..]).map(What::Packet),
        Some('>') => packet(Dir::Out, &rest[1..]).map(What::Packet),
        Some(c) if c.is_ascii_alphabetic() => call(rest).map(What::Call),
        _ => Err(format!("expected a packet, a call or a command: {rest}")),
    }
}

/// A cursor over a line.
struct Cur<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a str) -> Cur<'a> {
        Cur { s, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.at += r.len() - r.trim_start().len();
    }

    fn done(&mut self) -> bool {
        self.ws();
        self.rest().is_empty()
    }

    /// Take `p` if the rest starts with it.
    fn eat(&mut self, p: &str) -> bool {
        self.ws();
        if self.rest().starts_with(p) {
            self.at += p.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Res<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}` at: {}", self.rest()))
        }
    }

    /// The next run of characters `ok` takes.
    fn take(&mut self, ok: impl Fn(char) -> bool) -> &'a str {
        self.ws();
        let r = self.rest();
        let n = r.find(|c: char| !ok(c)).unwrap_or(r.len());
        self.at += n;
        &r[..n]
    }

    fn word(&mut self) -> &'a str {
        self.take(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn number(&mut self) -> Res<i64> {
        self.ws();
        let neg = self.eat("-");
        let w = self.take(|c| c.is_ascii_alphanumeric());
        let v = match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
            Some(h) => i64::from_str_radix(h, 16),
            None => w.parse::<i64>(),
        }
        .map_err(|_| format!("expected a number, not `{w}`"))?;
        Ok(if neg { -v } else { v })
    }

    fn u32(&mut self) -> Res<u32> {
        let v = self.number()?;
        u32::try_from(v).map_err(|_| format!("{v} is out of range"))
    }
}

/// `name(args) = result [ERRNO (text)] [(note)]`.
fn call(l: &str) -> Res<Call> {
    let mut c = Cur::new(l);
    let name = c.word().to_string();
    c.expect("(")?;
    let mut args = Vec::new();
    if !c.eat(")") {
        loop {
            args.push(expr(&mut c)?);
            if c.eat(")") {
                break;
            }
            c.expect(",")?;
        }
    }
    c.expect("=")?;
    let ret = expr(&mut c)?;
    c.ws();
    let errno = c
        .rest()
        .starts_with(|ch: char| ch.is_ascii_uppercase())
        .then(|| c.word().to_string());
    // Whatever follows in parentheses is the errno's text or a note.
    if c.eat("(") {
        let depth_end = c.rest().rfind(')').ok_or("a note that does not end")?;
        c.at += depth_end + 1;
    }
    if !c.done() {
        return Err(format!("unexpected after the result: {}", c.rest()));
    }
    Ok(Call { name, args, ret, errno })
}

/// An argument: `...`, a number, a symbol, `a | b`, `[...]`, `{...}`, a string.
fn expr(c: &mut Cur) -> Res<Expr> {
    let first = atom(c)?;
    let mut v = vec![first];
    while c.eat("|") {
        v.push(atom(c)?);
    }
    Ok(if v.len() == 1 { v.remove(0) } else { Expr::Or(v) })
}

fn atom(c: &mut Cur) -> Res<Expr> {
    c.ws();
    let r = c.rest();
    if c.eat("...") {
        return Ok(Expr::Any);
    }
    if c.eat("[") {
        let mut v = Vec::new();
        if !c.eat("]") {
            loop {
                v.push(expr(c)?);
                if c.eat("]") {
                    break;
                }
                c.expect(",")?;
            }
        }
        return Ok(Expr::List(v));
    }
    if c.eat("{") {
        let mut v = Vec::new();
        if !c.eat("}") {
            loop {
                let k = c.word().to_string();
                c.expect("=")?;
                v.push((k, expr(c)?));
                if c.eat("}") {
                    break;
                }
                c.expect(",")?;
            }
        }
        return Ok(Expr::Struct(v));
    }
    if c.eat("\"") {
        let r = c.rest();
        let end = r.find('"').ok_or("a string that does not end")?;
        c.at += end + 1;
        return Ok(Expr::Str(r[..end].to_string()));
    }
    match r.chars().next() {
        Some(ch) if ch.is_ascii_digit() || ch == '-' => c.number().map(Expr::Int),
        Some(ch) if ch.is_ascii_alphabetic() || ch == '_' => Ok(Expr::Sym(c.word().to_string())),
        _ => Err(format!("expected an argument at: {r}")),
    }
}

/// A packet line after its `<` or `>`.
fn packet(dir: Dir, l: &str) -> Res<Packet> {
    let mut c = Cur::new(l);
    let mut ip = IpFields::default();
    loop {
        if c.eat("[") {
            let w = c.word();
            ip.ecn = Some(match w {
                "noecn" => Ecn::NoEcn,
                "ect0" => Ecn::Ect0,
                "ect1" => Ecn::Ect1,
                "ce" => Ecn::Ce,
                _ => return Err(format!("unknown ECN field: {w}")),
            });
            c.expect("]")?;
        } else if c.rest().starts_with('(') {
            c.expect("(")?;
            let k = c.word();
            let v = Some(c.u32()?);
            match k {
                "tos" => ip.tos = v,
                "class" => ip.class = v,
                "ttl" => ip.ttl = v,
                "hlim" => ip.hlim = v,
                _ => return Err(format!("unknown IP field: {k}")),
            }
            c.expect(")")?;
        } else {
            break;
        }
    }
    c.ws();
    if c.rest().starts_with("icmp") {
        c.word();
        return icmp(&mut c).map(|i| Packet {
            dir,
            ip,
            body: Body::Icmp(i),
        });
    }
    tcp(&mut c).map(|t| Packet {
        dir,
        ip,
        body: Body::Tcp(t),
    })
}

/// `FLAGS start:end(len)[!] [ack N] [win N] [<options>] [/udp(a > b)]`.
fn tcp(c: &mut Cur) -> Res<Tcp> {
    let mut flags = c
        .take(|ch| ch.is_ascii_alphabetic() || ch == '.' || ch == '-')
        .to_string();
    // `F .`: the ACK flag may stand apart (parser.y's `flags`).
    c.ws();
    if !flags.contains('.') && c.rest().starts_with('.') && !c.rest().starts_with("..") {
        c.at += 1;
        flags.push('.');
    }
    if flags.is_empty() || !flags.chars().all(|ch| "SAFRPUEW.-".contains(ch)) {
        return Err(format!("bad TCP flags `{flags}`"));
    }
    let seq = if c.eat("...") {
        if c.eat("(") {
            c.number()?;
            c.expect(")")?;
        }
        None
    } else {
        let start = c.u32()?;
        c.expect(":")?;
        let end = c.u32()?;
        c.expect("(")?;
        let len = c.u32()?;
        c.expect(")")?;
        if end.wrapping_sub(start) != len {
            return Err(format!("{start}:{end}({len}): the length is not end - start"));
        }
        Some((start, end, len))
    };
    let seq_absolute = c.eat("!");
    let mut t = Tcp {
        flags,
        seq,
        seq_absolute,
        ack: None,
        win: None,
        options: Some(Vec::new()),
        udp: None,
    };
    loop {
        if c.eat("ack") {
            t.ack = Some(c.u32()?);
        } else if c.eat("win") {
            t.win = Some(c.u32()?);
        } else if c.eat("<") {
            t.options = tcp_options(c)?;
        } else if c.eat("/udp") {
            c.expect("(")?;
            let a = c.number()?;
            c.expect(">")?;
            let b = c.number()?;
            c.expect(")")?;
            let port = |p: i64| u16::try_from(p).map_err(|_| format!("bad port {p}"));
            t.udp = Some((port(a)?, port(b)?));
        } else if c.done() {
            return Ok(t);
        } else {
            return Err(format!("unexpected in a TCP line: {}", c.rest()));
        }
    }
}

/// The options between `<` and `>` (`<` read): `None` for `<...>`.
fn tcp_options(c: &mut Cur) -> Res<Option<Vec<TcpOpt>>> {
    if c.eat("...") {
        c.expect(">")?;
        return Ok(None);
    }
    let mut v = Vec::new();
    if c.eat(">") {
        return Ok(Some(v));
    }
    loop {
        let w = c.word();
        v.push(match w {
            "eol" => TcpOpt::Eol,
            "nop" => TcpOpt::Nop,
            "sackOK" => TcpOpt::SackOk,
            "mss" => TcpOpt::Mss(u16::try_from(c.u32()?).map_err(|_| "bad mss".to_string())?),
            "wscale" => TcpOpt::Wscale(u8::try_from(c.u32()?).map_err(|_| "bad wscale".to_string())?),
            "sack" => {
                let mut blocks = Vec::new();
                c.ws();
                while c.rest().starts_with(|ch: char| ch.is_ascii_digit()) {
                    let a = c.u32()?;
                    c.expect(":")?;
                    blocks.push((a, c.u32()?));
                    c.ws();
                }
                TcpOpt::Sack(blocks)
            }
            "TS" => {
                c.expect("val")?;
                let val = if c.eat("...") { None } else { Some(c.u32()?) };
                c.expect("ecr")?;
                let ecr = if c.eat("...") { None } else { Some(c.u32()?) };
                TcpOpt::Ts {
                    val,
                    ecr,
                    ecr_absolute: c.eat("!"),
                }
            }
            "FO" => {
                let h = c.take(|ch| ch.is_ascii_hexdigit());
                if h.is_empty() {
                    TcpOpt::FastOpen(None)
                } else if h.len() % 2 == 1 {
                    return Err(format!("a cookie of odd length: {h}"));
                } else {
                    let bytes = (0..h.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&h[i..i + 2], 16))
                        .collect::<Result<Vec<u8>, _>>()
                        .map_err(|_| format!("bad cookie {h}"))?;
                    TcpOpt::FastOpen(Some(bytes))
                }
            }
            "md5" => {
                c.word();
                TcpOpt::Md5
            }
            _ => return Err(format!("unknown TCP option `{w}`")),
        });
        if c.eat(">") {
            return Ok(Some(v));
        }
        c.expect(",")?;
    }
}

/// `icmp TYPE [CODE] [mtu N] [[segment]]` (`icmp` read).
fn icmp(c: &mut Cur) -> Res<Icmp> {
    let kind = c.word().to_string();
    if kind.is_empty() {
        return Err("an ICMP line needs its type".into());
    }
    let mut i = Icmp {
        kind,
        code: None,
        mtu: None,
        quoted: None,
    };
    loop {
        if c.eat("mtu") {
            i.mtu = Some(c.u32()?);
        } else if c.eat("[") {
            let r = c.rest();
            let end = r.rfind(']').ok_or("a quoted segment that does not end")?;
            i.quoted = Some(r[..end].trim().to_string());
            c.at += end + 1;
        } else if c.done() {
            return Ok(i);
        } else if i.code.is_none() {
            let w = c.word();
            if w.is_empty() {
                return Err(format!("unexpected in an ICMP line: {}", c.rest()));
            }
            i.code = Some(w.to_string());
        } else {
            return Err(format!("unexpected in an ICMP line: {}", c.rest()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the suite's scripts: its header, its sysctl lines,
    /// calls with errnos and notes, packets both ways with options.
    const RST_IN_CLOSED: &str = "/*
 * Copyright ...
 */
// Ensure that an ACK in CLOSED gets a RST.

--ip_version=ipv4
--tolerance_usecs=50000

 0.00 `sysctl -w net.inet.tcp.rfc1323=1`
+0.00 `sysctl -w net.inet.tcp.hostcache.purgenow=1`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0.00 bind(3, ..., ...) = 0
+0.00 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
+0.10 <  . 17:20(3) ack 34 win 32767
+0.00 > R  34:34(0) win  0 // the answer
+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
 1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)
+0.00 close(3) = 0
";

    #[test]
    fn a_suite_script_reads_whole() {
        let s = parse(RST_IN_CLOSED).expect("parses");
        assert_eq!(
            s.options,
            [
                ("ip_version".to_string(), "ipv4".to_string()),
                ("tolerance_usecs".into(), "50000".into())
            ]
        );
        assert_eq!(s.events.len(), 12);
        assert_eq!(
            s.events[0],
            Event {
                line: 9,
                when: When::At(0),
                what: What::Command("sysctl -w net.inet.tcp.rfc1323=1".into())
            }
        );
        let What::Call(sock) = &s.events[2].what else {
            panic!("a call")
        };
        assert_eq!(sock.name, "socket");
        assert_eq!(
            sock.args,
            [
                Expr::Any,
                Expr::Sym("SOCK_STREAM".into()),
                Expr::Sym("IPPROTO_TCP".into())
            ]
        );
        assert_eq!(sock.ret, Expr::Int(3));
        let What::Call(opt) = &s.events[3].what else {
            panic!("a call")
        };
        assert_eq!(opt.args[3], Expr::List(vec![Expr::Int(1)]));
        let What::Packet(p) = &s.events[6].what else {
            panic!("a packet")
        };
        assert_eq!((s.events[6].when, p.dir), (When::After(100_000), Dir::In));
        let Body::Tcp(t) = &p.body else { panic!("TCP") };
        assert_eq!(
            (t.flags.as_str(), t.seq, t.ack, t.win),
            (".", Some((17, 20, 3)), Some(34), Some(32767))
        );
        let What::Packet(r) = &s.events[7].what else {
            panic!("a packet")
        };
        assert_eq!(r.dir, Dir::Out);
        let What::Call(f) = &s.events[8].what else {
            panic!("a call")
        };
        assert_eq!((f.ret.clone(), f.errno.clone()), (Expr::Int(2), None));
        let What::Call(f) = &s.events[9].what else {
            panic!("a call")
        };
        assert_eq!(
            f.args[2],
            Expr::Or(vec![Expr::Sym("O_RDWR".into()), Expr::Sym("O_NONBLOCK".into())])
        );
        let c = &s.events[10];
        assert_eq!(c.when, When::Span(1_000_000, 6_000_000, false));
        let What::Call(c) = &c.what else { panic!("a call") };
        assert_eq!((c.ret.clone(), c.errno.as_deref()), (Expr::Int(-1), Some("ETIMEDOUT")));
    }

    #[test]
    fn options_ecn_udp_and_icmp_lines_read() {
        let s = parse(
            "0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 0 ecr 0,FO,eol,eol>
+0 < S. 0:0(0) ack 1 win 65535 <mss 1460,sack 1:2 3:4,TS val 100 ecr 7!,FO 0102030405060708>
* > S 0:0(0) win 65535 <...>/udp(9811 > 1)
+0 > [ect0] P. 1:11(10) ack 1
+0 > (tos 0x20) S. ...(0) ack 18 win 65535 <...>
+0 < icmp unreachable frag_needed mtu 1234 [0:0(0)]
+0 < R. 5:5(0)! win 0
+ 0.00 %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0 < F  . 1:1(0) ack 101 win 65535
",
        )
        .expect("parses");
        let tcp = |i: usize| match &s.events[i].what {
            What::Packet(Packet { body: Body::Tcp(t), .. }) => t.clone(),
            w => panic!("{w:?}"),
        };
        assert_eq!(
            tcp(0).options,
            Some(vec![
                TcpOpt::Mss(1460),
                TcpOpt::Nop,
                TcpOpt::Wscale(6),
                TcpOpt::SackOk,
                TcpOpt::Ts {
                    val: Some(0),
                    ecr: Some(0),
                    ecr_absolute: false
                },
                TcpOpt::FastOpen(None),
                TcpOpt::Eol,
                TcpOpt::Eol
            ])
        );
        let o = tcp(1).options.unwrap_or_default();
        assert_eq!(o[1], TcpOpt::Sack(vec![(1, 2), (3, 4)]));
        assert_eq!(
            o[2],
            TcpOpt::Ts {
                val: Some(100),
                ecr: Some(7),
                ecr_absolute: true
            }
        );
        assert_eq!(o[3], TcpOpt::FastOpen(Some(vec![1, 2, 3, 4, 5, 6, 7, 8])));
        assert_eq!(s.events[2].when, When::Any);
        assert_eq!((tcp(2).options, tcp(2).udp), (None, Some((9811, 1))));
        let What::Packet(p) = &s.events[3].what else {
            panic!("a packet")
        };
        assert_eq!(p.ip.ecn, Some(Ecn::Ect0));
        let What::Packet(p) = &s.events[4].what else {
            panic!("a packet")
        };
        assert_eq!(p.ip.tos, Some(0x20));
        assert_eq!(tcp(4).seq, None);
        let What::Packet(p) = &s.events[5].what else {
            panic!("a packet")
        };
        assert_eq!(
            p.body,
            Body::Icmp(Icmp {
                kind: "unreachable".into(),
                code: Some("frag_needed".into()),
                mtu: Some(1234),
                quoted: Some("0:0(0)".into())
            })
        );
        assert!(tcp(6).seq_absolute);
        assert_eq!(tcp(8).flags, "F.");
        assert_eq!(
            s.events[7],
            Event {
                line: 8,
                when: When::After(0),
                what: What::Code("assert tcpi_state == TCPI_ESTABLISHED".into())
            }
        );
    }

    #[test]
    fn ifdefs_init_and_cleanup_commands_are_placed() {
        let s = parse(
            "`kldload tcpmd5; echo 'add a b' ;
   add b a' | setkey -c`
#ifdef FreeBSD
0 `sysctl -w net.inet.tcp.blackhole=0`
#endif
#ifdef STANDARD
+0 `this is not run`
#endif
+1 close(3) = 0
`setkey -F`
",
        )
        .expect("parses");
        assert_eq!(
            s.init.as_deref(),
            Some("kldload tcpmd5; echo 'add a b' ;\n   add b a' | setkey -c")
        );
        assert_eq!(s.cleanup.as_deref(), Some("setkey -F"));
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.events[1].line, 9);
    }

    #[test]
    fn what_cannot_be_read_is_an_error_naming_its_line() {
        for (text, line, says) in [
            ("0 socket(..., SOCK_STREAM) = 3\n+0 < S 0:5(3) win 1\n", 2, "the length"),
            ("0 < Z 0:0(0) win 1\n", 1, "bad TCP flags"),
            ("\n\n0.1234567 close(3) = 0\n", 3, "bad time"),
            ("0 < S 0:0(0) win 1 <mss 1460,bogus>\n", 1, "unknown TCP option"),
            ("0 close(3) = 0\n--mtu=1500\n", 2, "an option after"),
            ("0 close(3 = 0\n", 1, "expected"),
            ("#ifdef FreeBSD\n0 close(3) = 0\n", 2, "#ifdef without #endif"),
            ("/* open\n0 close(3) = 0\n", 1, "does not end"),
            ("0 `sysctl -w x=1\n", 1, "backquote"),
            ("0 `sysctl -w x=1 ``\n", 1, "backquote"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.msg.contains(says), "{text}: {e}");
        }
    }
}
