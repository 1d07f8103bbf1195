//! rtadvd(8): router advertisements (RFC 4861 §6.2) on each interface
//! named, unsolicited at random intervals between `mininterval` and
//! `maxinterval` (the first three within 16 s), and in answer to a
//! solicitation after up to half a second, never closer than 3 s apart.
//! The prefixes advertised are the interface's own (not link-local),
//! autonomous and on-link, unless rtadvd.conf(5) names one; a host
//! (forwarding off) may only advertise with router lifetime 0.
//! Without `-f` it goes to the background, as the daemon does.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use clap::Parser;

use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::radix::Key;
use crate::netinet::raw_ip::rip_attach;
use crate::netinet6::icmp6::rip6_output;
use crate::netinet6::in6::{in6_clearscope, in6_ifaddrs, in6_linklocal, in6_setscope, key};
use crate::netinet6::ip6::{IP6, IPPROTO_ICMPV6};
use crate::netinet6::ip6_output::Ip6Opts;
use crate::userland::ping::recvif_until;
use crate::wire::icmpv6::{self, ND_OPT_PI_FLAG_AUTO, ND_OPT_PI_FLAG_ONLINK, ND_ROUTER_SOLICIT, PrefixInfo, RaHdr};
use crate::wire::ipv6::{ext_walk, is_link_local};

/// RFC 4861 §10's router constants.
const MAX_INITIAL_RTR_ADVERTISEMENTS: u32 = 3;
const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
const MAX_RA_DELAY_TIME_US: u64 = 500_000;

/// router advertisement daemon (rtadvd(8))
#[derive(Parser, Debug)]
#[command(name = "rtadvd", disable_help_flag = true, disable_version_flag = true)]
pub struct RtadvdArgs {
    /// The configuration file (rtadvd.conf(5)).
    #[arg(short = 'c', value_name = "configfile")]
    config: Option<String>,
    /// Debugging messages.
    #[arg(short = 'd')]
    debug: bool,
    /// More debugging messages.
    #[arg(short = 'D')]
    more_debug: bool,
    /// Stay in the foreground.
    #[arg(short = 'f')]
    foreground: bool,
    #[arg(required = true, value_name = "interface")]
    interfaces: Vec<String>,
}

/// What one interface advertises (`struct rainfo`).
#[derive(Clone, Debug)]
struct Rainfo {
    index: u32,
    name: String,
    hdr: RaHdr,
    mtu: Option<u32>,
    /// Configured prefixes; empty: the interface's own.
    prefixes: Vec<PrefixInfo>,
    pinfoflags: u8,
    vltime: u32,
    pltime: u32,
    maxint: Duration,
    minint: Duration,
    sent: u32,
    next: Time,
    last: Option<Time>,
}

/// rtadvd.conf(5): termcap-style entries (`name:cap:cap:...`, a
/// backslash ending a line to continue it), capabilities `key#number`,
/// `key="string"` or a bare `key`; `tc=NAME` takes another entry's.
fn getconfig(text: &str) -> HashMap<String, HashMap<String, String>> {
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", "");
    let mut out = HashMap::new();
    for entry in joined.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut fields = split_caps(entry).into_iter();
        let names = fields.next().unwrap_or("");
        let mut caps = HashMap::new();
        for f in fields.map(str::trim).filter(|f| !f.is_empty()) {
            let (k, v) = match f.split_once(['#', '=']) {
                Some((k, v)) => (k, v.trim_matches('"')),
                None => (f, ""),
            };
            caps.insert(k.to_string(), v.to_string());
        }
        for n in names.split('|') {
            out.insert(n.to_string(), caps.clone());
        }
    }
    out
}

/// An entry's fields: split at colons outside quoted strings.
fn split_caps(entry: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in entry.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                out.push(&entry[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&entry[start..]);
    out
}

/// The capabilities for `ifname`, with what `tc=` names beneath them.
fn caps_for(conf: &HashMap<String, HashMap<String, String>>, ifname: &str) -> HashMap<String, String> {
    let mut caps = conf.get(ifname).cloned().unwrap_or_default();
    let mut depth = 0;
    while let Some(tc) = caps.remove("tc")
        && depth < 8
    {
        for (k, v) in conf.get(&tc).cloned().unwrap_or_default() {
            caps.entry(k).or_insert(v);
        }
        depth += 1;
    }
    caps
}

fn num<T: std::str::FromStr>(caps: &HashMap<String, String>, k: &str, dflt: T) -> Result<T, String> {
    match caps.get(k) {
        None => Ok(dflt),
        Some(v) => v.parse().map_err(|_| format!("{k}: bad value {v}")),
    }
}

/// An interface's settings from its capabilities, with rtadvd's defaults.
fn rainfo(index: u32, name: &str, caps: &HashMap<String, String>) -> Result<Rainfo, String> {
    let maxint: u64 = num(caps, "maxinterval", 600)?;
    if !(4..=1800).contains(&maxint) {
        return Err(format!(
            "maxinterval ({maxint}) on {name} is invalid (must be between 4 and 1800)"
        ));
    }
    let minint: u64 = num(caps, "mininterval", maxint / 3)?;
    if minint < 3 || minint > maxint * 3 / 4 {
        return Err(format!(
            "mininterval ({minint}) on {name} is invalid (must be between 3 and {})",
            maxint * 3 / 4
        ));
    }
    let rltime: u16 = num(caps, "rltime", (maxint * 3) as u16)?;
    let mtu: u32 = num(caps, "mtu", 0)?;
    let mut prefixes = Vec::new();
    let pinfoflags: u8 = num(caps, "pinfoflags", ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO)?;
    let vltime: u32 = num(caps, "vltime", 2_592_000)?;
    let pltime: u32 = num(caps, "pltime", 604_800)?;
    if let Some(a) = caps.get("addr") {
        let prefix: Ipv6Addr = a.parse().map_err(|_| format!("inet_pton failed for {a}"))?;
        let plen: u8 = num(caps, "prefixlen", 64)?;
        if plen > 128 {
            return Err(format!("prefixlen ({plen}) for {a} on {name} out of range"));
        }
        prefixes.push(PrefixInfo {
            plen,
            flags: pinfoflags,
            valid: vltime,
            preferred: pltime,
            prefix: Ipv6Addr::from(key(&prefix) & u128::mask(plen)),
        });
    }
    Ok(Rainfo {
        index,
        name: name.to_string(),
        hdr: RaHdr {
            cur_hop_limit: num(caps, "chlim", 64)?,
            flags: num(caps, "raflags", 0)?,
            router_lifetime: rltime,
            reachable: num(caps, "rtime", 0)?,
            retrans: num(caps, "retrans", 0)?,
        },
        mtu: (mtu != 0).then_some(mtu),
        prefixes,
        pinfoflags,
        vltime,
        pltime,
        maxint: Duration::from_secs(maxint),
        minint: Duration::from_secs(minint),
        sent: 0,
        next: Time::ZERO,
        last: None,
    })
}

pub async fn rtadvd(p: Proc, argv: Vec<String>) -> i32 {
    let a: RtadvdArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let conf = match &a.config {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => getconfig(&t),
            Err(e) => {
                errln!(p, "rtadvd: {f}: {}", super::strerror(&e));
                return 1;
            }
        },
        None => HashMap::new(),
    };
    let mut rais = Vec::new();
    for name in &a.interfaces {
        let found = p.vnet(|_, v| (v.builtin(IF).by_name(name).map(|i| i.index), v.builtin(IP6).forwarding));
        let (index, forwarding) = match found {
            Ok((Some(i), f)) => (i, f),
            Ok((None, _)) => {
                errln!(p, "rtadvd: <getconfig> interface {name} not found");
                return 1;
            }
            Err(e) => {
                errln!(p, "rtadvd: {e}");
                return 1;
            }
        };
        let ra = match rainfo(index, name, &caps_for(&conf, name)) {
            Ok(ra) => ra,
            Err(e) => {
                errln!(p, "rtadvd: <getconfig> {e}");
                return 1;
            }
        };
        // Hosts must not advertise themselves as routers (§6.2.3).
        if ra.hdr.router_lifetime != 0 && !forwarding {
            errln!(
                p,
                "rtadvd: <getconfig> non zero router lifetime is specified for {name}, which must not be allowed for hosts.  you must change router lifetime or enable IPv6 forwarding."
            );
            return 1;
        }
        rais.push(ra);
    }
    if a.foreground {
        return serve(p, rais, a.debug || a.more_debug).await;
    }
    let q = p.exec("rtadvd");
    let debug = a.debug || a.more_debug;
    let id = p.spawn(Box::pin(async move { serve(q, rais, debug).await }));
    p.tasks().detach(id);
    0
}

/// The daemon's loop: advertise when each interface's time comes, and
/// bring the time forward for a solicitation.
async fn serve(p: Proc, mut rais: Vec<Rainfo>, debug: bool) -> i32 {
    let Ok(sock) = p.vnet(|_, v| rip_attach(v, IPPROTO_ICMPV6)) else {
        return 1;
    };
    let now = p.now();
    for ra in &mut rais {
        ra.next = now;
    }
    p.intr.catch();
    loop {
        let Some(next) = rais.iter().map(|r| r.next).min() else {
            return 0;
        };
        if let Some((at, from_if, d)) = recvif_until(&p, &sock, Some(next)).await {
            let rs = ext_walk(&d).is_ok_and(|c| d.get(c.off) == Some(&ND_ROUTER_SOLICIT));
            if let Some(ra) = rais.iter_mut().find(|r| r.index == from_if)
                && rs
            {
                // §6.2.6: a random delay, and not too soon after the last.
                let delay = p.vnet(|_, v| v.random() % MAX_RA_DELAY_TIME_US).unwrap_or(0);
                let mut t = at.saturating_add(Duration::from_micros(delay));
                if let Some(last) = ra.last {
                    t = t.max(last.saturating_add(MIN_DELAY_BETWEEN_RAS));
                }
                ra.next = ra.next.min(t);
                if debug {
                    errln!(p, "rtadvd: <rs_input> RS received on {}", ra.name);
                }
            }
            continue;
        }
        if p.intr.raised() {
            return 0;
        }
        let now = p.now();
        for ra in rais.iter_mut().filter(|r| r.next <= now) {
            let sent = ra_output(&p, ra);
            if debug && sent {
                errln!(p, "rtadvd: <ra_output> send RA on {}", ra.name);
            }
            let span = ra.maxint.saturating_sub(ra.minint).as_micros() as u64;
            let r = p.vnet(|_, v| v.random() % span.max(1)).unwrap_or(0);
            let mut wait = ra.minint + Duration::from_micros(r);
            if sent {
                ra.sent += 1;
                ra.last = Some(now);
                if ra.sent <= MAX_INITIAL_RTR_ADVERTISEMENTS {
                    wait = wait.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
                }
            } else {
                // The link-local address is not ready yet (DAD).
                wait = Duration::from_secs(1);
            }
            ra.next = now.saturating_add(wait);
        }
    }
}

/// One advertisement to all nodes on the interface, from its
/// link-local address; false if it has none ready.
fn ra_output(p: &Proc, ra: &Rainfo) -> bool {
    p.vnet(|k, v| {
        let Some(src) = in6_linklocal(v, ra.index) else {
            return false;
        };
        let prefixes = if ra.prefixes.is_empty() {
            let mut own: Vec<PrefixInfo> = Vec::new();
            for ia in in6_ifaddrs(v, ra.index) {
                let a = in6_clearscope(ia.addr);
                if is_link_local(&a) || a.is_loopback() || ia.plen > 128 {
                    continue;
                }
                let prefix = Ipv6Addr::from(key(&a) & u128::mask(ia.plen));
                if !own.iter().any(|p| p.prefix == prefix && p.plen == ia.plen) {
                    own.push(PrefixInfo {
                        plen: ia.plen,
                        flags: ra.pinfoflags,
                        valid: ra.vltime,
                        preferred: ra.pltime,
                        prefix,
                    });
                }
            }
            own
        } else {
            ra.prefixes.clone()
        };
        let mac = v.builtin(IF).get(ra.index).map(|i| i.lladdr);
        let mut b = icmpv6::ra_emit(&ra.hdr, mac, ra.mtu, &prefixes);
        let dst = in6_setscope(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), ra.index);
        icmpv6::Packet::new_unchecked(&mut b[..]).fill_checksum(&in6_clearscope(src), &in6_clearscope(dst));
        let o = Ip6Opts {
            hlim: Some(255),
            ifindex: Some(ra.index),
            proto: IPPROTO_ICMPV6,
            ..Ip6Opts::default()
        };
        rip6_output(k, v, &b, src, dst, &o).is_ok()
    })
    .unwrap_or(false)
}
