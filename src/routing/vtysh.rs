//! vtysh: FRR's shell over the jail's daemons. `-c` lines (or lines on
//! its standard input) are `show` commands, answered in FRR's layout, or,
//! after `configure terminal`, configuration lines that change the
//! running configuration the daemons follow at once.

use clap::Parser;

use super::bgpd;
use super::conf::Node;
use super::frr_of;
use super::rib::Proto;
use crate::kern::proc::Proc;
use crate::{errln, outln};

/// FRR's integrated shell
#[derive(Parser, Debug)]
#[command(name = "vtysh", disable_help_flag = true, disable_version_flag = true)]
pub struct VtyshArgs {
    /// A command to run (may be given more than once).
    #[arg(short = 'c', long = "command", value_name = "command")]
    commands: Vec<String>,
    /// Don't print the commands as they are run (always so here).
    #[arg(short = 'E', long = "echo", hide = true)]
    _echo: bool,
}

pub async fn vtysh(p: Proc, argv: Vec<String>) -> i32 {
    let a: VtyshArgs = match crate::userland::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let mut lines = a.commands.clone();
    if lines.is_empty() {
        while let Some(l) = p.stdin.read_line().await {
            lines.push(l);
        }
    }
    let Some(frr) = frr_of(&p) else {
        errln!(p, "Exiting: failed to connect to any daemons.");
        return 1;
    };
    let mut node: Option<Node> = None;
    let mut status = 0;
    for line in lines.iter().flat_map(|l| l.split('\n')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match (&mut node, &words[..]) {
            (_, []) => {}
            (None, ["configure", ..] | ["conf", ..]) => node = Some(Node::Config),
            (Some(_), ["end"]) => node = None,
            (Some(n), _) => {
                let mut f = frr.borrow_mut();
                let r = f.conf.apply(n, line);
                f.reconfigured();
                drop(f);
                if let Err(e) = r {
                    errln!(p, "{e}");
                    status = 1;
                }
            }
            (None, ["show", rest @ ..]) => match show(&p, rest) {
                Some(out) => p.stdout.write_bytes(out.as_bytes()),
                None => {
                    errln!(p, "% Unknown command: {line}");
                    status = 1;
                }
            },
            (None, ["clear", "bgp" | "ip", rest @ ..]) => {
                if let Err(e) = clear(&frr, rest) {
                    errln!(p, "{e}");
                    status = 1;
                }
            }
            (None, ["write", ..] | ["end"] | ["exit"]) => {}
            (None, _) => {
                errln!(p, "% Unknown command: {line}");
                status = 1;
            }
        }
    }
    status
}

/// `show bgp summary`: each family a neighbor is activated in, as FRR
/// 8.4 lists them.
fn show_bgp_summaries(b: &bgpd::Bgp, now: crate::kern::clock::Time) -> String {
    let active = |i: usize| b.peers.values().any(|x| x.conf.af[i].activate);
    let mut s = String::new();
    if active(0) {
        s += &bgpd::show_bgp_summary::<u32>(b, now, false);
    }
    if active(1) {
        s += &bgpd::show_bgp_summary::<u128>(b, now, false);
    }
    if s.is_empty() {
        s += "% No BGP neighbors found in VRF default\n";
    }
    s
}

/// `clear [ip] bgp [ipv4|ipv6 [unicast]] *|A.B.C.D [soft [in|out]]`: bgpd is
/// told, and does it at once.
fn clear(frr: &std::rc::Rc<std::cell::RefCell<super::Frr>>, w: &[&str]) -> Result<(), String> {
    use super::bgpd::Clear;
    let w: Vec<&str> = w
        .iter()
        .copied()
        .filter(|x| !matches!(*x, "bgp" | "ipv4" | "ipv6" | "unicast"))
        .collect();
    let (who, rest) = w.split_first().ok_or("% Command incomplete: clear bgp")?;
    let only = match *who {
        "*" => None,
        a => Some(crate::net::route::inet_addr(a).ok_or_else(|| format!("% Malformed address: {a}"))?),
    };
    let how = match rest {
        [] => Clear::Hard,
        ["soft"] | ["soft", "out"] | ["out"] => Clear::SoftOut,
        ["soft", "in"] | ["in"] => Clear::SoftIn,
        _ => return Err(format!("% Unknown command: clear bgp {}", w.join(" "))),
    };
    let mut f = frr.borrow_mut();
    let b = f.bgp.as_mut().ok_or("% No BGP process is configured")?;
    if only.is_some_and(|a| !b.peers.contains_key(&a)) {
        return Err(format!("% Neighbor {who} is not configured"));
    }
    if how == Clear::SoftOut && rest == ["soft"] {
        b.clears.push((only, Clear::SoftIn));
    }
    b.clears.push((only, how));
    f.reconfigured();
    Ok(())
}

/// The output of `show WORDS`, if it is a command.
fn show(p: &Proc, w: &[&str]) -> Option<String> {
    let frr = frr_of(p)?;
    let f = frr.borrow();
    let now = p.now();
    let rip = || f.rip.as_ref();
    let ospf = || f.ospf.as_ref();
    let bgp = || f.bgp.as_ref();
    Some(match w {
        [af @ ("ip" | "ipv6"), "route", which @ ..] => {
            let proto = match (*af, which) {
                (_, []) => None,
                ("ip", ["rip"]) | ("ipv6", ["ripng"]) => Some(Proto::Rip),
                ("ip", ["ospf"]) | ("ipv6", ["ospf6"]) => Some(Proto::Ospf),
                (_, ["connected"]) => Some(Proto::Connected),
                (_, ["kernel"]) => Some(Proto::Kernel),
                (_, ["static"]) => Some(Proto::Static),
                (_, ["bgp"]) => Some(Proto::Bgp),
                _ => return None,
            };
            if *af == "ip" {
                f.rib.show(p, proto)
            } else {
                f.rib6.show(p, proto)
            }
        }
        ["ip", "rip"] => rip().map(|r| super::ripd::show_ip_rip(r, now)).unwrap_or_default(),
        ["ip", "rip", "status"] => rip().map(|r| super::ripd::show_rip_status(r, now)).unwrap_or_default(),
        ["ipv6", "ripng"] => f
            .ripng
            .as_ref()
            .map(|r| {
                let name = |i: u32| {
                    p.vnet(|_, v| {
                        v.get(crate::net::ifnet::IF)
                            .and_then(|l| l.get(i))
                            .map(|f| f.name.clone())
                    })
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| format!("if{i}"))
                };
                super::ripngd::show_ipv6_ripng(r, now, name)
            })
            .unwrap_or_default(),
        ["ipv6", "ripng", "status"] => f
            .ripng
            .as_ref()
            .map(|r| super::ripd::show_rip_status(r, now))
            .unwrap_or_default(),
        ["ip", "ospf"] => ospf().map(super::ospfd::show_ip_ospf).unwrap_or_default(),
        ["ip", "ospf", "neighbor"] => ospf()
            .map(|o| super::ospfd::show_ip_ospf_neighbor(o, now))
            .unwrap_or_default(),
        ["ip", "ospf", "database"] => ospf()
            .map(|o| super::ospfd::show_ip_ospf_database(o, now))
            .unwrap_or_default(),
        ["bgp", "summary"] | ["ip", "bgp", "summary"] => bgp().map(|b| show_bgp_summaries(b, now)).unwrap_or_default(),
        ["bgp", "ipv4", "unicast", "summary"] | ["bgp", "ipv4", "summary"] => bgp()
            .map(|b| bgpd::show_bgp_summary::<u32>(b, now, true))
            .unwrap_or_default(),
        ["bgp", "ipv6", "unicast", "summary"] | ["bgp", "ipv6", "summary"] => bgp()
            .map(|b| bgpd::show_bgp_summary::<u128>(b, now, true))
            .unwrap_or_default(),
        ["bgp"] | ["ip", "bgp"] | ["bgp", "ipv4"] | ["bgp", "ipv4", "unicast"] => {
            bgp().map(bgpd::show_bgp_table::<u32>).unwrap_or_default()
        }
        ["bgp", "ipv6"] | ["bgp", "ipv6", "unicast"] => bgp().map(bgpd::show_bgp_table::<u128>).unwrap_or_default(),
        ["bgp", "ipv4", "unicast", x] | ["bgp", "ipv4", x] | ["ip", "bgp", x] | ["bgp", x]
            if x.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            bgp().map(|b| bgpd::show_bgp_prefix::<u32>(b, x)).unwrap_or_default()
        }
        ["bgp", "ipv6", "unicast", x] | ["bgp", "ipv6", x] if x.contains(':') => {
            bgp().map(|b| bgpd::show_bgp_prefix::<u128>(b, x)).unwrap_or_default()
        }
        ["bgp", "neighbors"] | ["ip", "bgp", "neighbors"] => bgp()
            .map(|b| bgpd::show_bgp_neighbors(b, now, None))
            .unwrap_or_default(),
        ["bgp", "neighbors", a] | ["ip", "bgp", "neighbors", a] => {
            let a = crate::net::route::inet_addr(a)?;
            bgp()
                .map(|b| bgpd::show_bgp_neighbors(b, now, Some(a)))
                .unwrap_or_default()
        }
        ["running-config"] | ["run"] => f.conf.running_config(),
        ["version"] => {
            outln!(p, "FRRouting 8.4 (vimage).");
            String::new()
        }
        _ => return None,
    })
}
