//! Capture filter expressions, a subset of pcap-filter(7): `host`, `net`,
//! `port` (each optionally `src` or `dst`), `ether host`, the protocols
//! `ip`, `arp`, `icmp`, `udp`, `tcp`, joined with `and`/`&&`, `or`/`||`,
//! `not`/`!` and parentheses. Anything else is refused with the word it
//! did not understand.

use crate::net::ethernet::ether_aton;
use crate::net::radix::mask;
use crate::net::route::inet_addr;
use crate::netinet::ip::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use crate::userland::print::Summary;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
    Any,
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Host(Dir, u32),
    Net(Dir, u32, u8),
    Port(Dir, u16),
    EtherHost(Dir, [u8; 6]),
    Ip,
    Arp,
    Proto(u8),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// Does the frame match?
    pub fn matches(&self, s: &Summary) -> bool {
        let by = |d: Dir, src: Option<u32>, dst: Option<u32>, f: &dyn Fn(u32) -> bool| match d {
            Dir::Src => src.is_some_and(f),
            Dir::Dst => dst.is_some_and(f),
            Dir::Any => src.is_some_and(f) || dst.is_some_and(f),
        };
        match self {
            Filter::Host(d, a) => by(*d, s.src, s.dst, &|x| x == *a),
            Filter::Net(d, n, p) => by(*d, s.src, s.dst, &|x| (x ^ n) & mask(*p) == 0),
            Filter::Port(d, port) => {
                let p = |x: Option<u16>| x == Some(*port);
                match d {
                    Dir::Src => p(s.sport),
                    Dir::Dst => p(s.dport),
                    Dir::Any => p(s.sport) || p(s.dport),
                }
            }
            Filter::EtherHost(d, m) => s.ether.is_some_and(|(src, dst)| match d {
                Dir::Src => src == *m,
                Dir::Dst => dst == *m,
                Dir::Any => src == *m || dst == *m,
            }),
            Filter::Ip => s.ip,
            Filter::Arp => s.arp,
            Filter::Proto(p) => s.proto == Some(*p),
            Filter::Not(f) => !f.matches(s),
            Filter::And(a, b) => a.matches(s) && b.matches(s),
            Filter::Or(a, b) => a.matches(s) || b.matches(s),
        }
    }
}

/// Parse an expression given as words (as tcpdump takes them).
pub fn parse(words: &[String]) -> Result<Option<Filter>, String> {
    let text = words.join(" ");
    let mut toks: Vec<String> = Vec::new();
    for w in text
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace("&&", " and ")
        .replace("||", " or ")
        .split_whitespace()
    {
        if let Some(rest) = w.strip_prefix('!').filter(|r| !r.is_empty()) {
            toks.push("not".into());
            toks.push(rest.into());
        } else if w == "!" {
            toks.push("not".into());
        } else {
            toks.push(w.to_string());
        }
    }
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser { toks, at: 0 };
    let f = p.expr()?;
    if let Some(t) = p.peek() {
        return Err(format!("syntax error in filter expression near '{t}'"));
    }
    Ok(Some(f))
}

struct Parser {
    toks: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expr(&mut self) -> Result<Filter, String> {
        let mut f = self.term()?;
        while self.peek() == Some("or") {
            self.next();
            f = Filter::Or(Box::new(f), Box::new(self.term()?));
        }
        Ok(f)
    }

    fn term(&mut self) -> Result<Filter, String> {
        let mut f = self.factor()?;
        while self.peek() == Some("and") {
            self.next();
            f = Filter::And(Box::new(f), Box::new(self.factor()?));
        }
        Ok(f)
    }

    fn factor(&mut self) -> Result<Filter, String> {
        match self.peek() {
            Some("not") => {
                self.next();
                Ok(Filter::Not(Box::new(self.factor()?)))
            }
            Some("(") => {
                self.next();
                let f = self.expr()?;
                match self.next().as_deref() {
                    Some(")") => Ok(f),
                    _ => Err("syntax error in filter expression: missing ')'".into()),
                }
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<Filter, String> {
        let Some(w) = self.next() else {
            return Err("syntax error in filter expression: unexpected end".into());
        };
        let dir = match w.as_str() {
            "src" => Some(Dir::Src),
            "dst" => Some(Dir::Dst),
            _ => None,
        };
        let w = if dir.is_some() {
            self.next().ok_or("syntax error in filter expression: unexpected end")?
        } else {
            w
        };
        let d = dir.unwrap_or(Dir::Any);
        let arg = |p: &mut Parser, what: &str| p.next().ok_or(format!("syntax error: '{what}' needs an argument"));
        match w.as_str() {
            "host" => {
                let a = arg(self, "host")?;
                inet_addr(&a)
                    .map(|x| Filter::Host(d, x))
                    .ok_or(format!("invalid host address '{a}'"))
            }
            "net" => {
                let a = arg(self, "net")?;
                let (n, p) = a.split_once('/').unwrap_or((&a, "32"));
                match (inet_addr(n), p.parse::<u8>()) {
                    (Some(n), Ok(p)) if p <= 32 => Ok(Filter::Net(d, n & mask(p), p)),
                    _ => Err(format!("invalid net '{a}'")),
                }
            }
            "port" => {
                let a = arg(self, "port")?;
                a.parse()
                    .map(|p| Filter::Port(d, p))
                    .map_err(|_| format!("invalid port '{a}'"))
            }
            "ether" => {
                match self.next().as_deref() {
                    Some("host") => {}
                    _ => return Err("syntax error: only 'ether host MAC' is understood".into()),
                }
                let a = arg(self, "ether host")?;
                ether_aton(&a)
                    .map(|m| Filter::EtherHost(d, m))
                    .ok_or(format!("invalid MAC address '{a}'"))
            }
            "ip" if dir.is_none() => Ok(Filter::Ip),
            "arp" if dir.is_none() => Ok(Filter::Arp),
            "icmp" if dir.is_none() => Ok(Filter::Proto(IPPROTO_ICMP)),
            "udp" if dir.is_none() => Ok(Filter::Proto(IPPROTO_UDP)),
            "tcp" if dir.is_none() => Ok(Filter::Proto(IPPROTO_TCP)),
            other => {
                // A bare address is shorthand for `host`.
                if let Some(a) = inet_addr(other) {
                    return Ok(Filter::Host(d, a));
                }
                Err(format!("can't parse filter expression: unknown word '{other}'"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Result<Option<Filter>, String> {
        parse(&s.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_and_matches() {
        let ip = |s: &str| inet_addr(s).unwrap_or(0);
        let s = Summary {
            ip: true,
            src: Some(ip("10.0.0.1")),
            dst: Some(ip("10.0.1.2")),
            proto: Some(IPPROTO_UDP),
            sport: Some(5000),
            dport: Some(53),
            ..Summary::default()
        };
        let m = |e: &str| f(e).ok().flatten().is_some_and(|x| x.matches(&s));
        assert!(m("host 10.0.0.1"));
        assert!(m("src host 10.0.0.1"));
        assert!(!m("dst host 10.0.0.1"));
        assert!(m("net 10.0.1.0/24"));
        assert!(m("udp and port 53"));
        assert!(m("udp && dst port 53 && not icmp"));
        assert!(!m("icmp or arp"));
        assert!(m("(icmp or udp) and !tcp"));
        assert!(m("10.0.1.2"));
        assert!(f("portrange 1-2").is_err());
        assert!(f("host").is_err());
        assert!(f("( udp").is_err());
        assert!(f("udp udp").is_err());
        assert_eq!(f(""), Ok(None));
    }
}
