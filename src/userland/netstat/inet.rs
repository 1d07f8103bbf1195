//! The Internet part of netstat (after `inet.c`): the socket list
//! (`protopr`) and the per-protocol statistics.

use crate::netinet::arp::ARP;
use crate::netinet::icmp::{Hist, ICMP, icmp_name};
use crate::netinet::in_pcb::{Endpoint, Vflag};
use crate::netinet::ip::IP;
use crate::netinet::tcp_var::{TCP, TcpState};
use crate::netinet::udp::UDP;
use crate::netinet6::icmp6::ICMP6;
use crate::netinet6::ip6::IP6;
use crate::vnet::Vnet;

/// `addr.port` as `inetprint` writes it: `*` for a wildcard address or
/// port, then a space, in a field of `width` (cut short unless wide).
fn inetprint(e: Endpoint, width: usize, wide: bool) -> String {
    // The address as the wire has it (a zone the stack embedded cleared).
    let a = if e.is_unspecified() {
        "*".to_string()
    } else {
        std::net::SocketAddr::from(e).ip().to_string()
    };
    let p = if e.port == 0 {
        "*".to_string()
    } else {
        e.port.to_string()
    };
    let line = if wide {
        format!("{a}.{p} ")
    } else {
        format!("{:.16}.{p} ", a)
    };
    if wide {
        format!("{line:<width$} ")
    } else {
        format!("{line:<width$.width$} ")
    }
}

/// A socket as protopr shows it: protocol and family ("tcp", "46"),
/// Recv-Q, Send-Q, local and foreign address and port, TCP state.
type Row = (
    &'static str,
    &'static str,
    usize,
    usize,
    Endpoint,
    Endpoint,
    Option<TcpState>,
);

/// `netstat -L`: each listening socket's queue of completed connections,
/// of incomplete ones (the syncache's), and its most (inet.c's protopr).
pub fn listenpr(v: &mut Vnet, proto: Option<&str>, wide: bool) -> Result<String, String> {
    if let Some(p) = proto
        && p != "tcp"
    {
        return Ok(String::new());
    }
    let width = if wide { 45 } else { 22 };
    let t = v.builtin(TCP);
    let mut s = String::new();
    for tp in t.tcbs.newest_first() {
        let Some(l) = &tp.listen else { continue };
        let inc = t
            .syncache
            .entries
            .values()
            .filter(|e| {
                e.ends.local.port == tp.local.port && (tp.local.is_unspecified() || e.ends.local.addr == tp.local.addr)
            })
            .count();
        if s.is_empty() {
            s += "Current listen queue sizes (qlen/incqlen/maxqlen)\n";
            s += &format!("{:<5.5} {:<32.32} {:<22.22}\n", "Proto", "Listen", "Local Address");
        }
        let q = format!("{}/{inc}/{}", l.queue.len(), l.backlog);
        s += &format!("{:<3.3}{:<2.2} {q:<32.32} ", "tcp", tp.vflag.digits(tp.local));
        s += &inetprint(tp.local, width, wide);
        s.push('\n');
    }
    Ok(s)
}

/// The socket list (`protopr`): TCP then UDP, each newest first, the
/// half-open connections of the syncache leading TCP's. Servers and
/// sockets on a wildcard address only with `-a`.
pub fn protopr(v: &mut Vnet, proto: Option<&str>, all: bool, wide: bool) -> Result<String, String> {
    if let Some(p) = proto
        && !["tcp", "udp", "ip", "icmp"].contains(&p)
    {
        return Err(format!("{p}: unknown or uninstrumented protocol"));
    }
    let width = if wide { 45 } else { 22 };
    let mut rows: Vec<Row> = Vec::new();
    if proto.is_none_or(|p| p == "tcp") {
        let t = v.builtin(TCP);
        for e in t.syncache.entries.values() {
            let af = Vflag::default().digits(e.ends.local);
            rows.push((
                "tcp",
                af,
                0,
                0,
                e.ends.local,
                e.ends.foreign,
                Some(TcpState::SynReceived),
            ));
        }
        for tp in t.tcbs.newest_first() {
            rows.push((
                "tcp",
                tp.vflag.digits(tp.local),
                tp.rcv_buf.len(),
                tp.snd_buf.len(),
                tp.local,
                tp.foreign,
                Some(tp.state),
            ));
        }
    }
    if proto.is_none_or(|p| p == "udp") {
        for u in v.builtin(UDP).pcbs.newest_first() {
            rows.push(("udp", u.vflag.digits(u.local), u.rcv_bytes, 0, u.local, u.foreign, None));
        }
    }
    let mut s = String::new();
    for (name, af, rq, sq, local, foreign, state) in rows {
        if !all && (state == Some(TcpState::Listen) || local.is_unspecified()) {
            continue;
        }
        if s.is_empty() {
            s += "Active Internet connections";
            if all {
                s += " (including servers)";
            }
            s += &format!(
                "\n{:<5.5} {:<6.6} {:<6.6} {:<width$.width$} {:<width$.width$} {:<11.11}\n",
                "Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "(state)"
            );
        }
        s += &format!("{name:<3.3}{af:<2.2} {rq:>6} {sq:>6} ");
        s += &inetprint(local, width, wide);
        s += &inetprint(foreign, width, wide);
        if let Some(st) = state {
            s += &format!("{:<11}", st.name());
        }
        s.push('\n');
    }
    Ok(s)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn pluralies(n: u64) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

fn plurales(n: u64) -> &'static str {
    if n == 1 { "" } else { "es" }
}

/// Collect lines, leaving out zero counters with `-ss`.
struct Lines {
    s: String,
    nozero: bool,
}

impl Lines {
    fn p(&mut self, n: u64, text: impl FnOnce(u64) -> String) {
        if n != 0 || !self.nozero {
            self.s += &text(n);
            self.s.push('\n');
        }
    }

    /// A line of two counters, shown if either is (`p2`).
    fn p2(&mut self, a: u64, b: u64, text: impl FnOnce(u64, u64) -> String) {
        self.p(a | b, |_| text(a, b));
    }
}

/// `netstat -s [-p proto]`.
pub fn stats(v: &mut Vnet, proto: Option<&str>, nozero: bool) -> Result<String, String> {
    let mut l = Lines {
        s: String::new(),
        nozero,
    };
    let all = proto.is_none();
    let known = ["tcp", "udp", "ip", "icmp", "arp", "ip6", "icmp6"];
    if let Some(pr) = proto
        && !known.contains(&pr)
    {
        return Err(format!("{pr}: unknown or uninstrumented protocol"));
    }
    if all || proto == Some("tcp") {
        tcp_stats(&mut l, v);
    }
    if all || proto == Some("udp") {
        let u = *v.builtin(UDP).stats;
        l.s += "udp:\n";
        l.p(u.ipackets, |n| format!("\t{n} datagram{} received", plural(n)));
        l.p(u.hdrops, |n| format!("\t{n} with incomplete header"));
        l.p(u.badlen, |n| format!("\t{n} with bad data length field"));
        l.p(u.badsum, |n| format!("\t{n} with bad checksum"));
        l.p(u.nosum, |n| format!("\t{n} with no checksum"));
        l.p(u.noport, |n| format!("\t{n} dropped due to no socket"));
        l.p(u.noportbcast, |n| {
            format!("\t{n} broadcast/multicast datagram{} undelivered", plural(n))
        });
        l.p(u.fullsock, |n| format!("\t{n} dropped due to full socket buffers"));
        l.p(0, |n| format!("\t{n} not for hashed pcb"));
        let delivered = u
            .ipackets
            .saturating_sub(u.hdrops + u.badlen + u.badsum + u.noport + u.noportbcast + u.fullsock);
        l.p(delivered, |n| format!("\t{n} delivered"));
        l.p(u.opackets, |n| format!("\t{n} datagram{} output", plural(n)));
    }
    if all || proto == Some("ip") {
        let s = *v.builtin(IP).stats;
        l.s += "ip:\n";
        l.p(s.total, |n| format!("\t{n} total packet{} received", plural(n)));
        l.p(s.badsum, |n| format!("\t{n} bad header checksum{}", plural(n)));
        l.p(s.toosmall, |n| format!("\t{n} with size smaller than minimum"));
        l.p(s.tooshort, |n| format!("\t{n} with data size < data length"));
        l.p(s.toolong, |n| format!("\t{n} with ip length > max ip packet size"));
        l.p(s.badhlen, |n| format!("\t{n} with header length < data size"));
        l.p(s.badlen, |n| format!("\t{n} with data length < header length"));
        l.p(s.badoptions, |n| format!("\t{n} with bad options"));
        l.p(s.badvers, |n| format!("\t{n} with incorrect version number"));
        l.p(s.fragments, |n| format!("\t{n} fragment{} received", plural(n)));
        l.p(s.fragdropped, |n| {
            format!("\t{n} fragment{} dropped (dup or out of space)", plural(n))
        });
        l.p(s.fragtimeout, |n| {
            format!("\t{n} fragment{} dropped after timeout", plural(n))
        });
        l.p(s.reassembled, |n| format!("\t{n} packet{} reassembled ok", plural(n)));
        l.p(s.delivered, |n| format!("\t{n} packet{} for this host", plural(n)));
        l.p(s.noproto, |n| {
            format!("\t{n} packet{} for unknown/unsupported protocol", plural(n))
        });
        l.p(s.forward, |n| {
            format!("\t{n} packet{} forwarded (0 packets fast forwarded)", plural(n))
        });
        l.p(s.cantforward, |n| format!("\t{n} packet{} not forwardable", plural(n)));
        l.p(s.notmember, |n| {
            format!("\t{n} packet{} received for unknown multicast group", plural(n))
        });
        l.p(s.redirectsent, |n| format!("\t{n} redirect{} sent", plural(n)));
        l.p(s.localout, |n| format!("\t{n} packet{} sent from this host", plural(n)));
        l.p(s.rawout, |n| {
            format!("\t{n} packet{} sent with fabricated ip header", plural(n))
        });
        l.p(s.odropped, |n| {
            format!("\t{n} output packet{} dropped due to no bufs, etc.", plural(n))
        });
        l.p(s.noroute, |n| {
            format!("\t{n} output packet{} discarded due to no route", plural(n))
        });
        l.p(s.fragmented, |n| {
            format!("\t{n} output datagram{} fragmented", plural(n))
        });
        l.p(s.ofragments, |n| format!("\t{n} fragment{} created", plural(n)));
        l.p(s.cantfrag, |n| {
            format!("\t{n} datagram{} that can't be fragmented", plural(n))
        });
        l.p(s.nogif, |n| {
            format!("\t{n} tunneling packet{} that can't find gif", plural(n))
        });
        l.p(s.badaddr, |n| {
            format!("\t{n} datagram{} with bad address in header", plural(n))
        });
    }
    if all || proto == Some("icmp") {
        let s = v.builtin(ICMP).stats.clone();
        l.s += "icmp:\n";
        l.p(s.error, |n| format!("\t{n} call{} to icmp_error", plural(n)));
        l.p(s.oldicmp, |n| {
            format!("\t{n} error{} not generated in response to an icmp message", plural(n))
        });
        histogram(&mut l.s, "Output", &s.outhist, icmp_name);
        l.p(s.badcode, |n| {
            format!("\t{n} message{} with bad code fields", plural(n))
        });
        l.p(s.tooshort, |n| {
            format!("\t{n} message{} less than the minimum length", plural(n))
        });
        l.p(s.checksum, |n| format!("\t{n} message{} with bad checksum", plural(n)));
        l.p(s.badlen, |n| format!("\t{n} message{} with bad length", plural(n)));
        l.p(s.bmcastecho, |n| format!("\t{n} multicast echo requests ignored"));
        l.p(s.bmcasttstamp, |n| {
            format!("\t{n} multicast timestamp requests ignored")
        });
        histogram(&mut l.s, "Input", &s.inhist, icmp_name);
        l.p(s.reflect, |n| format!("\t{n} message response{} generated", plural(n)));
        l.p(s.badaddr, |n| format!("\t{n} invalid return address{}", plurales(n)));
        l.p(s.noroute, |n| format!("\t{n} no return route{}", plural(n)));
        l.p(s.ratelimited, |n| {
            format!("\t{n} response{} suppressed by icmplim", plural(n))
        });
    }
    if all || proto == Some("arp") {
        let s = *v.builtin(ARP).stats;
        l.s += "arp:\n";
        l.p(s.txrequests, |n| format!("\t{n} ARP request{} sent", plural(n)));
        l.p(0, |n| format!("\t{n} ARP requests failed to sent"));
        l.p(s.txreplies, |n| format!("\t{n} ARP repl{} sent", pluralies(n)));
        l.p(s.rxrequests, |n| format!("\t{n} ARP request{} received", plural(n)));
        l.p(s.rxreplies, |n| format!("\t{n} ARP repl{} received", pluralies(n)));
        l.p(s.received, |n| format!("\t{n} ARP packet{} received", plural(n)));
        l.p(s.dropped, |n| {
            format!("\t{n} total packet{} dropped due to no ARP entry", plural(n))
        });
        l.p(s.timeouts, |n| format!("\t{n} ARP entry{} timed out", plural(n)));
        l.p(s.dupips, |n| format!("\t{n} Duplicate IP{} seen", plural(n)));
    }
    if all || proto == Some("ip6") {
        ip6_stats(&mut l, v);
    }
    if all || proto == Some("icmp6") {
        icmp6_stats(&mut l, v);
    }
    Ok(l.s)
}

/// `netstat -s -p ip6` (inet6.c's `ip6_stats`).
fn ip6_stats(l: &mut Lines, v: &mut Vnet) {
    let s = *v.builtin(IP6).stats;
    let pl = plural;
    l.s += "ip6:\n";
    l.p(s.total, |n| format!("\t{n} total packet{} received", pl(n)));
    l.p(s.toosmall, |n| format!("\t{n} with size smaller than minimum"));
    l.p(s.tooshort, |n| format!("\t{n} with data size < data length"));
    l.p(s.badoptions, |n| format!("\t{n} with bad options"));
    l.p(s.badvers, |n| format!("\t{n} with incorrect version number"));
    l.p(s.fragments, |n| format!("\t{n} fragment{} received", pl(n)));
    l.p(s.fragdropped, |n| {
        format!("\t{n} fragment{} dropped (dup or out of space)", pl(n))
    });
    l.p(s.fragtimeout, |n| {
        format!("\t{n} fragment{} dropped after timeout", pl(n))
    });
    l.p(s.fragoverflow, |n| {
        format!("\t{n} fragment{} that exceeded limit", pl(n))
    });
    l.p(s.atomicfrags, |n| format!("\t{n} atomic fragment{}", pl(n)));
    l.p(s.reassembled, |n| format!("\t{n} packet{} reassembled ok", pl(n)));
    l.p(s.delivered, |n| format!("\t{n} packet{} for this host", pl(n)));
    l.p(s.forward, |n| format!("\t{n} packet{} forwarded", pl(n)));
    l.p(s.cantforward, |n| format!("\t{n} packet{} not forwardable", pl(n)));
    l.p(s.redirectsent, |n| format!("\t{n} redirect{} sent", pl(n)));
    l.p(s.localout, |n| format!("\t{n} packet{} sent from this host", pl(n)));
    l.p(s.rawout, |n| {
        format!("\t{n} packet{} sent with fabricated ip header", pl(n))
    });
    l.p(s.odropped, |n| {
        format!("\t{n} output packet{} dropped due to no bufs, etc.", pl(n))
    });
    l.p(s.noroute, |n| {
        format!("\t{n} output packet{} discarded due to no route", pl(n))
    });
    l.p(s.fragmented, |n| format!("\t{n} output datagram{} fragmented", pl(n)));
    l.p(s.ofragments, |n| format!("\t{n} fragment{} created", pl(n)));
    l.p(s.cantfrag, |n| {
        format!("\t{n} datagram{} that can't be fragmented", pl(n))
    });
    l.p(s.badscope, |n| {
        format!("\t{n} packet{} that violated scope rules", pl(n))
    });
    l.p(s.notmember, |n| {
        format!("\t{n} multicast packet{} which we don't join", pl(n))
    });
    l.p(s.noproto, |n| {
        format!("\t{n} packet{} for unknown/unsupported protocol", pl(n))
    });
    l.p(s.toomanyhdr, |n| {
        format!("\t{n} packet{} discarded because of too many headers", pl(n))
    });
    l.p(s.sources_none, |n| {
        format!("\t{n} failure{} of source address selection", pl(n))
    });
}

/// `netstat -s -p icmp6` (inet6.c's `icmp6_stats`).
fn icmp6_stats(l: &mut Lines, v: &mut Vnet) {
    let s = v.builtin(ICMP6).stats.clone();
    let pl = plural;
    l.s += "icmp6:\n";
    l.p(s.error, |n| format!("\t{n} call{} to icmp6_error", pl(n)));
    l.p(s.canterror, |n| {
        format!("\t{n} error{} not generated in response to an icmp6 message", pl(n))
    });
    l.p(s.toofreq, |n| {
        format!("\t{n} error{} not generated because of rate limitation", pl(n))
    });
    histogram(&mut l.s, "Output", &s.outhist, icmp6_name);
    l.p(s.badcode, |n| format!("\t{n} message{} with bad code fields", pl(n)));
    l.p(s.tooshort, |n| format!("\t{n} message{} < minimum length", pl(n)));
    l.p(s.checksum, |n| format!("\t{n} bad checksum{}", pl(n)));
    l.p(s.badlen, |n| format!("\t{n} message{} with bad length", pl(n)));
    histogram(&mut l.s, "Input", &s.inhist, icmp6_name);
    l.p(s.reflect, |n| format!("\t{n} message response{} generated", pl(n)));
    l.p(s.pmtuchg, |n| format!("\t{n} path MTU change{}", pl(n)));
    l.p(s.badredirect, |n| format!("\t{n} bad redirect message{}", pl(n)));
}

/// netstat's name for an ICMPv6 type (`icmp6names[]`).
fn icmp6_name(t: u8) -> String {
    match t {
        1 => "destination unreachable".into(),
        2 => "packet too big".into(),
        3 => "time exceed".into(),
        4 => "parameter problem".into(),
        128 => "echo".into(),
        129 => "echo reply".into(),
        130 => "multicast listener query".into(),
        131 => "MLDv1 listener report".into(),
        132 => "MLDv1 listener done".into(),
        133 => "router solicitation".into(),
        134 => "router advertisement".into(),
        135 => "neighbor solicitation".into(),
        136 => "neighbor advertisement".into(),
        137 => "redirect".into(),
        143 => "MLDv2 listener report".into(),
        n => format!("#{n}"),
    }
}

fn histogram<const N: usize>(s: &mut String, dir: &str, h: &Hist<N>, name: fn(u8) -> String) {
    let counts = h.counts();
    if counts.is_empty() {
        return;
    }
    *s += &format!("\t{dir} histogram:\n");
    for (t, n) in counts {
        *s += &format!("\t\t{}: {n}\n", name(t));
    }
}

/// `netstat -s -p tcp`: every line of FreeBSD's `tcp_stats`, in order;
/// what vimage does not do (URG, ECN, signatures, host cache) counts 0.
fn tcp_stats(l: &mut Lines, v: &mut Vnet) {
    let t = v.builtin(TCP);
    let s = *t.stats;
    let mut states = [0u64; 11];
    for tp in t.all() {
        states[tp.state as usize] += 1;
    }
    states[TcpState::SynReceived as usize] += t.syncache.len() as u64;
    let pl = plural;
    l.s += "tcp:\n";
    l.p(s.sndtotal, |n| format!("\t{n} packet{} sent", pl(n)));
    l.p2(s.sndpack, s.sndbyte, |a, b| {
        format!("\t\t{a} data packet{} ({b} byte{})", pl(a), pl(b))
    });
    l.p2(s.sndrexmitpack, s.sndrexmitbyte, |a, b| {
        format!("\t\t{a} data packet{} ({b} byte{}) retransmitted", pl(a), pl(b))
    });
    l.p(0, |n| {
        format!("\t\t{n} data packet{} unnecessarily retransmitted", pl(n))
    });
    l.p(s.mturesent, |n| {
        format!("\t\t{n} resend{} initiated by MTU discovery", pl(n))
    });
    l.p2(s.sndacks, s.delack, |a, b| {
        format!("\t\t{a} ack-only packet{} ({b} delayed)", pl(a))
    });
    l.p(0, |n| format!("\t\t{n} URG only packet{}", pl(n)));
    l.p(s.sndprobe, |n| format!("\t\t{n} window probe packet{}", pl(n)));
    l.p(s.sndwinup, |n| format!("\t\t{n} window update packet{}", pl(n)));
    l.p(s.sndctrl, |n| format!("\t\t{n} control packet{}", pl(n)));
    l.p(s.rcvtotal, |n| format!("\t{n} packet{} received", pl(n)));
    l.p2(s.rcvackpack, s.rcvackbyte, |a, b| {
        format!("\t\t{a} ack{} (for {b} byte{})", pl(a), pl(b))
    });
    l.p(s.rcvdupack, |n| format!("\t\t{n} duplicate ack{}", pl(n)));
    l.p(0, |n| format!("\t\t{n} UDP tunneled pkt{}", pl(n)));
    l.p(0, |n| format!("\t\t{n} UDP tunneled pkt cnt with error{}", pl(n)));
    l.p(s.rcvacktoomuch, |n| format!("\t\t{n} ack{} for unsent data", pl(n)));
    l.p2(s.rcvpack, s.rcvbyte, |a, b| {
        format!("\t\t{a} packet{} ({b} byte{}) received in-sequence", pl(a), pl(b))
    });
    l.p2(s.rcvduppack, s.rcvdupbyte, |a, b| {
        format!("\t\t{a} completely duplicate packet{} ({b} byte{})", pl(a), pl(b))
    });
    l.p(s.pawsdrop, |n| format!("\t\t{n} old duplicate packet{}", pl(n)));
    l.p2(s.rcvpartduppack, s.rcvpartdupbyte, |a, b| {
        format!("\t\t{a} packet{} with some dup. data ({b} byte{} duped)", pl(a), pl(b))
    });
    l.p2(s.rcvoopack, s.rcvoobyte, |a, b| {
        format!("\t\t{a} out-of-order packet{} ({b} byte{})", pl(a), pl(b))
    });
    l.p2(s.rcvpackafterwin, s.rcvbyteafterwin, |a, b| {
        format!("\t\t{a} packet{} ({b} byte{}) of data after window", pl(a), pl(b))
    });
    l.p(s.rcvwinprobe, |n| format!("\t\t{n} window probe{}", pl(n)));
    l.p(s.rcvwinupd, |n| format!("\t\t{n} window update packet{}", pl(n)));
    l.p(0, |n| format!("\t\t{n} packet{} received with dsack", pl(n)));
    l.p(0, |n| format!("\t\t{n} dsack byte{} received (no TLP involved)", pl(n)));
    l.p(0, |n| format!("\t\t{n} dsack byte{} received (TLP responsible)", pl(n)));
    l.p(s.rcvafterclose, |n| {
        format!("\t\t{n} packet{} received after close", pl(n))
    });
    l.p(s.rcvbadsum, |n| format!("\t\t{n} discarded for bad checksum{}", pl(n)));
    l.p(s.rcvbadoff, |n| {
        format!("\t\t{n} discarded for bad header offset field{}", pl(n))
    });
    l.p(s.rcvshort, |n| format!("\t\t{n} discarded because packet too short"));
    l.p(s.rcvmemdrop, |n| {
        format!("\t\t{n} discarded due to full reassembly queue")
    });
    l.p(s.connattempt, |n| format!("\t{n} connection request{}", pl(n)));
    l.p(s.accepts, |n| format!("\t{n} connection accept{}", pl(n)));
    l.p(s.badsyn, |n| format!("\t{n} bad connection attempt{}", pl(n)));
    l.p(s.listendrop, |n| format!("\t{n} listen queue overflow{}", pl(n)));
    l.p(s.badrst, |n| format!("\t{n} ignored RSTs in the window{}", pl(n)));
    l.p(s.connects, |n| {
        format!("\t{n} connection{} established (including accepts)", pl(n))
    });
    l.p(0, |n| format!("\t\t{n} time{} used RTT from hostcache", pl(n)));
    l.p(0, |n| format!("\t\t{n} time{} used RTT variance from hostcache", pl(n)));
    l.p(0, |n| {
        format!("\t\t{n} time{} used slow-start threshold from hostcache", pl(n))
    });
    l.p2(s.closed, s.drops, |a, b| {
        format!("\t{a} connection{} closed (including {b} drop{})", pl(a), pl(b))
    });
    l.p(0, |n| {
        format!("\t\t{n} connection{} updated cached RTT on close", pl(n))
    });
    l.p(0, |n| {
        format!("\t\t{n} connection{} updated cached RTT variance on close", pl(n))
    });
    l.p(0, |n| {
        format!("\t\t{n} connection{} updated cached ssthresh on close", pl(n))
    });
    l.p(s.conndrops, |n| format!("\t{n} embryonic connection{} dropped", pl(n)));
    l.p2(s.rttupdated, s.segstimed, |a, b| {
        format!("\t{a} segment{} updated rtt (of {b} attempt{})", pl(a), pl(b))
    });
    l.p(s.rexmttimeo, |n| format!("\t{n} retransmit timeout{}", pl(n)));
    l.p(s.timeoutdrop, |n| {
        format!("\t\t{n} connection{} dropped by rexmit timeout", pl(n))
    });
    l.p(s.persisttimeo, |n| format!("\t{n} persist timeout{}", pl(n)));
    l.p(s.persistdrop, |n| {
        format!("\t\t{n} connection{} dropped by persist timeout", pl(n))
    });
    l.p(s.finwait2_drops, |n| {
        format!("\t{n} Connection{} (fin_wait_2) dropped because of timeout", pl(n))
    });
    l.p(s.keeptimeo, |n| format!("\t{n} keepalive timeout{}", pl(n)));
    l.p(s.keepprobe, |n| format!("\t\t{n} keepalive probe{} sent", pl(n)));
    l.p(s.keepdrops, |n| {
        format!("\t\t{n} connection{} dropped by keepalive", pl(n))
    });
    l.p(0, |n| {
        format!("\t{n} connection{} dropped due to exceeding progress time", pl(n))
    });
    l.p(0, |n| format!("\t{n} correct ACK header prediction{}", pl(n)));
    l.p(0, |n| format!("\t{n} correct data packet header prediction{}", pl(n)));
    l.p(s.sc_added, |n| format!("\t{n} syncache entr{} added", pluralies(n)));
    for (n, what) in [
        (s.sc_retransmitted, "retransmitted"),
        (s.sc_dupsyn, "dupsyn"),
        (s.sc_dropped, "dropped"),
        (s.sc_completed, "completed"),
        (0, "bucket overflow"),
        (s.sc_cacheoverflow, "cache overflow"),
        (s.sc_reset, "reset"),
        (s.sc_stale, "stale"),
        (0, "aborted"),
        (s.sc_badack, "badack"),
        (0, "unreach"),
    ] {
        l.p(n, |n| format!("\t\t{n} {what}"));
    }
    l.p(0, |n| format!("\t\t{n} zone failure{}", pl(n)));
    l.p(s.sc_sendcookie, |n| format!("\t{n} cookie{} sent", pl(n)));
    l.p(s.sc_recvcookie, |n| format!("\t{n} cookie{} received", pl(n)));
    l.p(0, |n| format!("\t{n} hostcache entr{} added", pluralies(n)));
    l.p(0, |n| format!("\t\t{n} bucket overflow"));
    l.p(s.sack_recovery_episode, |n| {
        format!("\t{n} SACK recovery episode{}", pl(n))
    });
    l.p(s.sack_rexmits, |n| {
        format!("\t{n} segment rexmit{} in SACK recovery episodes", pl(n))
    });
    l.p(s.sack_rexmit_bytes, |n| {
        format!("\t{n} byte rexmit{} in SACK recovery episodes", pl(n))
    });
    l.p(s.sack_rcv_blocks, |n| {
        format!("\t{n} SACK option{} (SACK blocks) received", pl(n))
    });
    l.p(s.sack_send_blocks, |n| {
        format!("\t{n} SACK option{} (SACK blocks) sent", pl(n))
    });
    l.p(0, |n| format!("\t{n} SACK retransmission{} lost", pl(n)));
    l.p(0, |n| format!("\t{n} SACK scoreboard overflow"));
    for what in [
        "packet{} received with ECN CE bit set",
        "packet{} received with ECN ECT(0) bit set",
        "packet{} received with ECN ECT(1) bit set",
        "packet{} sent with ECN ECT(0) bit set",
        "packet{} sent with ECN ECT(1) bit set",
        "successful ECN handshake{}",
        "time{} ECN reduced the congestion window",
        "ACE SYN packet{} with Non-ECT",
        "ACE SYN packet{} with ECT0",
        "ACE SYN packet{} with ECT1",
        "ACE SYN packet{} with CE",
        "packet{} with matching signature received",
        "packet{} with bad signature received",
        "time{} failed to make signature due to no SA",
        "time{} unexpected signature received",
        "time{} no signature provided by segment",
        "Path MTU discovery black hole detection activation{}",
        "Path MTU discovery black hole detection min MSS activation{}",
        "Path MTU discovery black hole detection failure{}",
        "time{} connection in TIME-WAIT responded with ACK",
        "time{} connection in TIME-WAIT was actively recycled",
        "time{} connection in TIME-WAIT responded with RST",
    ] {
        l.p(0, |n| format!("\t{n} {}", what.replace("{}", pl(n))));
    }
    l.s += "TCP connection count by state:\n";
    for (i, n) in states.into_iter().enumerate() {
        let name = TcpState::ALL[i].name();
        l.p(n, |n| {
            let c = if n == 1 { "connection" } else { "connections" };
            format!("\t{n} {c} in {name} state")
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plurals() {
        assert_eq!(super::plural(1), "");
        assert_eq!(super::plural(2), "s");
        assert_eq!(super::pluralies(2), "ies");
    }
}
