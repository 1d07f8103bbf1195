//! tcpdump(1): capture the frames of an interface that pass a
//! pcap-filter(7) expression, print them as tcpdump 4.99 does or write them
//! to a pcap file (`-w`), or read one back (`-r`, by libpcap).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::rc::Rc;
use std::time::Duration;

use clap::{ArgAction, Parser};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

use crate::kern::proc::Proc;
use crate::net::bpf::Bpf;
use crate::net::ifnet::IF;
use crate::userland::pcap_filter::{Filter, message};
use crate::userland::print::{Dump, LinkType, Opts, Printer};
use crate::{errln, outln};

/// dump traffic on a network (tcpdump(1))
#[derive(Parser, Debug)]
#[command(name = "tcpdump", disable_help_flag = true, disable_version_flag = true)]
pub struct TcpdumpArgs {
    /// Print each packet's data in ASCII.
    #[arg(short = 'A', action = ArgAction::Count)]
    ascii: u8,
    /// Exit after receiving count packets.
    #[arg(short = 'c', value_name = "count")]
    count: Option<u64>,
    /// Print the link-level header on each dump line.
    #[arg(short = 'e')]
    eflag: bool,
    /// Listen on interface.
    #[arg(short = 'i', value_name = "interface")]
    iface: Option<String>,
    /// Line-buffered output (it always is).
    #[arg(short = 'l')]
    lbuf: bool,
    /// Don't convert addresses or ports to names (they never are).
    #[arg(short = 'n', action = ArgAction::Count)]
    numeric: u8,
    /// Don't put the interface into promiscuous mode (accepted).
    #[arg(short = 'p')]
    nopromisc: bool,
    /// Quiet: less protocol information (accepted).
    #[arg(short = 'q')]
    quiet: bool,
    /// Read packets from file (a pcap).
    #[arg(short = 'r', value_name = "file")]
    read: Option<String>,
    /// Print absolute TCP sequence numbers.
    #[arg(short = 'S')]
    absolute: bool,
    /// Snapshot length (accepted: frames are kept whole).
    #[arg(short = 's', value_name = "snaplen")]
    snaplen: Option<u32>,
    /// -t: no timestamp; -tt: seconds since the epoch; -ttt: since the
    /// previous packet; -tttt: date and time; -ttttt: since the first.
    #[arg(short = 't', action = ArgAction::Count)]
    tflag: u8,
    /// Verbose: the IP header's fields, checksums.
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
    /// Write the raw packets to file (a pcap) rather than printing them.
    #[arg(short = 'w', value_name = "file")]
    write: Option<String>,
    /// Print each packet's data in hex.
    #[arg(short = 'x', action = ArgAction::Count)]
    hex: u8,
    /// Print each packet's data in hex and ASCII.
    #[arg(short = 'X', action = ArgAction::Count)]
    hex_ascii: u8,
    /// The filter expression (pcap-filter(7)).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "expression")]
    expression: Vec<String>,
}

impl TcpdumpArgs {
    fn printer(&self) -> Printer {
        let (dump, twice) = match (self.hex_ascii, self.hex, self.ascii) {
            (n, _, _) if n > 0 => (Dump::HexAscii, n > 1),
            (_, n, _) if n > 0 => (Dump::Hex, n > 1),
            (_, _, n) if n > 0 => (Dump::Ascii, n > 1),
            _ => (Dump::None, false),
        };
        Printer::new(Opts {
            eflag: self.eflag,
            verbose: self.verbose,
            absolute: self.absolute,
            dump,
            dump_link: twice,
            tflag: self.tflag,
        })
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
    if let Some(path) = &a.read {
        return read(&p, &a, path);
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
        let link = if ifp.is_ethernet() {
            LinkType::Ether
        } else {
            LinkType::Null
        };
        let filter = Filter::compile(&a.expression, link)?;
        // DLT_NULL frames begin with the address family (AF_INET), in
        // host byte order, as the filter and the file see them.
        let frame_of = move |f: &[u8]| match link {
            LinkType::Null => [&2u32.to_le_bytes()[..], f].concat(),
            LinkType::Ether => f.to_vec(),
        };
        let bpf = Bpf::new(filter.map(|f| {
            Box::new(move |frame: &[u8]| match link {
                LinkType::Ether => f.matches(frame),
                LinkType::Null => f.matches(&frame_of(frame)),
            }) as crate::net::bpf::BpfFilter
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
                .map_err(|e| crate::userland::strerror(&e))
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
    if writer.is_none() && a.verbose == 0 {
        errln!(
            p,
            "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode"
        );
        errln!(
            p,
            "listening on {name}, link-type {}, snapshot length 262144 bytes",
            link.name()
        );
    } else {
        errln!(
            p,
            "tcpdump: listening on {name}, link-type {}, snapshot length 262144 bytes",
            link.name()
        );
    }
    // The counts are told however the capture ends, killed included; an
    // interrupted one ends its output with a newline first.
    struct Report {
        p: Proc,
        bpf: Rc<RefCell<Bpf>>,
        captured: u64,
        interrupted: bool,
        printing: bool,
    }
    impl Drop for Report {
        fn drop(&mut self) {
            if self.interrupted && self.printing {
                outln!(self.p);
            }
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
        interrupted: true,
        printing: writer.is_none(),
    };
    let mut pr = a.printer();
    // ^C ends the capture with its counts (pcap_breakloop).
    p.intr.catch();
    loop {
        if a.count.is_some_and(|c| report.captured >= c) {
            report.interrupted = false;
            break;
        }
        let (b2, intr) = (bpf.clone(), p.intr.clone());
        let got = p
            .until(None, move |w| {
                if intr.poll_raised(w) {
                    return Some(None);
                }
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
            None => outln!(p, "{}", pr.line(wall, link, &frame)),
        }
    }
    drop(writer);
    drop(report);
    0
}

/// The snapshot length in a pcap file's header.
fn snaplen(path: &str) -> u32 {
    let mut h = [0u8; 24];
    let ok = File::open(path).and_then(|mut f| f.read_exact(&mut h)).is_ok();
    match (ok, &h[..4]) {
        (true, [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]) => u32::from_le_bytes([h[16], h[17], h[18], h[19]]),
        (true, _) => u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
        _ => 0,
    }
}

fn read(p: &Proc, a: &TcpdumpArgs, path: &str) -> i32 {
    let mut cap = match pcap::Capture::from_file(path) {
        Ok(c) => c,
        Err(e) => {
            errln!(p, "tcpdump: {}", message(e));
            return 1;
        }
    };
    let link = match cap.get_datalink() {
        pcap::Linktype::ETHERNET => LinkType::Ether,
        pcap::Linktype::NULL => LinkType::Null,
        other => {
            errln!(p, "tcpdump: {path}: unsupported link type {}", other.0);
            return 1;
        }
    };
    let filter = match Filter::compile(&a.expression, link) {
        Ok(f) => f,
        Err(e) => {
            errln!(p, "tcpdump: {e}");
            return 1;
        }
    };
    errln!(
        p,
        "reading from file {path}, link-type {}, snapshot length {}",
        link.name(),
        snaplen(path)
    );
    let mut pr = a.printer();
    let mut n = 0;
    loop {
        let (t, data) = match cap.next_packet() {
            Ok(pkt) => {
                let t = Duration::new(pkt.header.ts.tv_sec as u64, pkt.header.ts.tv_usec as u32 * 1000);
                (t, pkt.data.to_vec())
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                errln!(p, "tcpdump: pcap_loop: {}", message(e));
                return 1;
            }
        };
        if filter.as_ref().is_some_and(|f| !f.matches(&data)) {
            continue;
        }
        outln!(p, "{}", pr.line(t, link, &data));
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
    }
    0
}
