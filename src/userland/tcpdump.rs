//! tcpdump(1): capture the frames of an interface, print them one line
//! each or write them to a pcap file (`-w`), or read one back (`-r`).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::rc::Rc;

use clap::Parser;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use crate::kern::proc::Proc;
use crate::net::bpf::Bpf;
use crate::net::ifnet::IF;
use crate::userland::print::{LinkType, decode, summarize};
use crate::{errln, outln};

/// dump traffic on a network (tcpdump(1))
#[derive(Parser, Debug)]
#[command(name = "tcpdump", disable_help_flag = true, disable_version_flag = true)]
pub struct TcpdumpArgs {
    /// Exit after receiving count packets.
    #[arg(short = 'c', value_name = "count")]
    count: Option<u64>,
    /// Print the link-level header on each dump line.
    #[arg(short = 'e')]
    eflag: bool,
    /// Listen on interface.
    #[arg(short = 'i', value_name = "interface")]
    iface: Option<String>,
    /// Don't convert addresses to names (they never are).
    #[arg(short = 'n')]
    numeric: bool,
    /// Don't put the interface into promiscuous mode (accepted).
    #[arg(short = 'p')]
    nopromisc: bool,
    /// Quiet: less protocol information (accepted).
    #[arg(short = 'q')]
    quiet: bool,
    /// Read packets from file (a pcap).
    #[arg(short = 'r', value_name = "file")]
    read: Option<String>,
    /// Verbose (accepted).
    #[arg(short = 'v')]
    verbose: bool,
    /// Write the raw packets to file (a pcap) rather than printing them.
    #[arg(short = 'w', value_name = "file")]
    write: Option<String>,
    /// The filter expression.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "expression")]
    expression: Vec<String>,
}

/// `HH:MM:SS.uuuuuu` of a time since the epoch (UTC).
fn stamp(t: std::time::Duration) -> String {
    let s = t.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        t.subsec_micros()
    )
}

fn linktype_name(l: LinkType) -> &'static str {
    match l {
        LinkType::Ether => "EN10MB (Ethernet)",
        LinkType::Null => "NULL (BSD loopback)",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub async fn tcpdump(p: Proc, argv: Vec<String>) -> i32 {
    let a: TcpdumpArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let filter = match super::pcap_filter::parse(&a.expression) {
        Ok(f) => f,
        Err(e) => {
            errln!(p, "tcpdump: {e}");
            return 1;
        }
    };
    if let Some(path) = &a.read {
        return read(&p, &a, path, filter);
    }
    let attached = p.vnet(|_, v| {
        let ifs = v.builtin(IF);
        let ifp = match &a.iface {
            Some(n) => ifs.by_name(n),
            None => ifs
                .list
                .iter()
                .find(|i| !i.is_loopback() && i.is_up())
                .or(ifs.list.first()),
        };
        let ifp = ifp.ok_or_else(|| match &a.iface {
            Some(n) => format!("{n}: No such device exists (BIOCSETIF failed: Device not configured)"),
            None => "no suitable device found".to_string(),
        })?;
        let link = if ifp.is_loopback() {
            LinkType::Null
        } else {
            LinkType::Ether
        };
        let f = filter.clone();
        let bpf =
            Bpf::new(f.map(|f| {
                Box::new(move |frame: &[u8]| f.matches(&summarize(link, frame))) as crate::net::bpf::BpfFilter
            }));
        let name = ifp.name.clone();
        let index = ifp.index;
        if let Some(i) = v.builtin(IF).get_mut(index) {
            i.bpf.push(Rc::downgrade(&bpf));
        }
        Ok::<_, String>((bpf, link, name))
    });
    let (bpf, link, name) = match attached {
        Ok(Ok(x)) => x,
        Ok(Err(e)) | Err(e) => {
            errln!(p, "tcpdump: {e}");
            return 1;
        }
    };
    let mut writer = match &a.write {
        Some(path) => {
            let header = PcapHeader {
                datalink: match link {
                    LinkType::Ether => DataLink::ETHERNET,
                    LinkType::Null => DataLink::NULL,
                },
                ts_resolution: TsResolution::MicroSecond,
                snaplen: 262144,
                ..PcapHeader::default()
            };
            match File::create(path)
                .map_err(|e| e.to_string())
                .and_then(|f| PcapWriter::with_header(BufWriter::new(f), header).map_err(|e| e.to_string()))
            {
                Ok(w) => Some(w),
                Err(e) => {
                    errln!(p, "tcpdump: {path}: {e}");
                    return 1;
                }
            }
        }
        None => None,
    };
    if writer.is_none() {
        errln!(
            p,
            "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode"
        );
        errln!(
            p,
            "listening on {name}, link-type {}, snapshot length 262144 bytes",
            linktype_name(link)
        );
    } else {
        errln!(
            p,
            "tcpdump: listening on {name}, link-type {}, snapshot length 262144 bytes",
            linktype_name(link)
        );
    }
    // The counts are told however the capture ends, killed included.
    struct Report {
        p: Proc,
        bpf: Rc<RefCell<Bpf>>,
        captured: u64,
    }
    impl Drop for Report {
        fn drop(&mut self) {
            let b = self.bpf.borrow();
            let (c, r, d) = (self.captured, b.received, b.dropped);
            errln!(self.p, "{c} packet{} captured", plural(c));
            errln!(self.p, "{r} packet{} received by filter", plural(r));
            errln!(self.p, "{d} packet{} dropped by kernel", plural(d));
        }
    }
    let mut report = Report {
        p: p.clone(),
        bpf: bpf.clone(),
        captured: 0,
    };
    loop {
        if a.count.is_some_and(|c| report.captured >= c) {
            break;
        }
        let b2 = bpf.clone();
        let got = p
            .until(None, move |w| {
                let mut b = b2.borrow_mut();
                match b.queue.pop_front() {
                    Some(x) => Some(Some(x)),
                    None if b.closed => Some(None),
                    None => {
                        b.set_waker(w);
                        None
                    }
                }
            })
            .await;
        let Some(Some((t, frame))) = got else { break };
        report.captured += 1;
        let wall = p.kernel().wallclock(t);
        let frame = match link {
            // DLT_NULL: the address family (AF_INET) in host byte order.
            LinkType::Null => [&2u32.to_le_bytes()[..], &frame].concat(),
            LinkType::Ether => frame,
        };
        match &mut writer {
            Some(w) => {
                if let Err(e) = w.write_packet(&PcapPacket::new(wall, frame.len() as u32, &frame)) {
                    errln!(p, "tcpdump: write: {e}");
                    return 1;
                }
            }
            None => outln!(p, "{} {}", stamp(wall), decode(link, &frame, a.eflag)),
        }
    }
    drop(writer);
    drop(report);
    0
}

fn read(p: &Proc, a: &TcpdumpArgs, path: &str, filter: Option<super::pcap_filter::Filter>) -> i32 {
    let r = File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| PcapReader::new(BufReader::new(f)).map_err(|e| e.to_string()));
    let mut r = match r {
        Ok(r) => r,
        Err(e) => {
            errln!(p, "tcpdump: {path}: {e}");
            return 1;
        }
    };
    let link = match r.header().datalink {
        DataLink::ETHERNET => LinkType::Ether,
        DataLink::NULL => LinkType::Null,
        other => {
            errln!(p, "tcpdump: {path}: unsupported link type {other:?}");
            return 1;
        }
    };
    errln!(
        p,
        "reading from file {path}, link-type {}, snapshot length {}",
        linktype_name(link),
        r.header().snaplen
    );
    let mut n = 0;
    while let Some(pkt) = r.next_packet() {
        let pkt = match pkt {
            Ok(x) => x,
            Err(e) => {
                errln!(p, "tcpdump: {path}: {e}");
                return 1;
            }
        };
        if filter.as_ref().is_some_and(|f| !f.matches(&summarize(link, &pkt.data))) {
            continue;
        }
        outln!(p, "{} {}", stamp(pkt.timestamp), decode(link, &pkt.data, a.eflag));
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    0
}
