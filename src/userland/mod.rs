//! The FreeBSD userland, as vimage commands: same names, flags, output and
//! error messages as the manual pages say.
//!
//! A command is an async function of a [`Proc`] and its arguments that
//! returns an exit status. Each has a clap parser; `help COMMAND` prints
//! it. FreeBSD's own `-h` flags (jls -h) win over clap's help flag.

pub mod arp;
pub mod bench;
pub mod bench_bgp;
#[cfg(target_os = "linux")]
pub mod bench_shim;
pub mod demo;
pub mod hostname;
pub mod hostproc;
pub mod ifconfig;
pub mod iperf3;
pub mod jail;
pub mod misc;
pub mod nc;
pub mod ndp;
pub mod netstat;
pub mod packetdrill;
pub mod pcap_filter;
pub mod ping;
pub mod ping6;
pub mod pipe;
pub mod print;
pub mod route;
pub mod route6;
pub mod rtadvd;
pub mod rtsol;
pub mod sh;
pub mod shell;
#[cfg(target_os = "linux")]
pub mod shim;
pub mod sockstat;
pub mod sysctl;
pub mod tcpdump;
pub mod traceroute;
pub mod traceroute6;

use std::future::Future;
use std::pin::Pin;

use clap::{CommandFactory, Parser};

use crate::errln;
use crate::kern::proc::Proc;

/// A running command.
pub type CmdFuture = Pin<Box<dyn Future<Output = i32>>>;

/// One entry of the command table.
pub struct Cmd {
    pub name: &'static str,
    pub run: fn(Proc, Vec<String>) -> CmdFuture,
    /// The clap command, for `help`.
    pub help: fn() -> clap::Command,
}

macro_rules! cmd {
    ($name:literal, $run:path, $args:ty) => {
        Cmd {
            name: $name,
            run: |p, a| Box::pin($run(p, a)),
            help: <$args as CommandFactory>::command,
        }
    };
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[Cmd] = &[
    cmd!("jail", jail::jail, jail::JailArgs),
    cmd!("jls", jail::jls, jail::JlsArgs),
    cmd!("jexec", jail::jexec, jail::JexecArgs),
    cmd!("sysctl", sysctl::sysctl, sysctl::SysctlArgs),
    cmd!("ifconfig", ifconfig::ifconfig, ifconfig::IfconfigArgs),
    cmd!("route", route::route, route::RouteArgs),
    cmd!("netstat", netstat::netstat, netstat::NetstatArgs),
    cmd!("sockstat", sockstat::sockstat, sockstat::SockstatArgs),
    cmd!("arp", arp::arp, arp::ArpArgs),
    cmd!("ndp", ndp::ndp, ndp::NdpArgs),
    cmd!("rtsol", rtsol::rtsol, rtsol::RtsolArgs),
    cmd!("rtadvd", rtadvd::rtadvd, rtadvd::RtadvdArgs),
    cmd!("ripd", crate::routing::ripd::ripd, crate::routing::daemon::DaemonArgs),
    cmd!(
        "ripngd",
        crate::routing::ripngd::ripngd,
        crate::routing::daemon::DaemonArgs
    ),
    cmd!(
        "staticd",
        crate::routing::staticd::staticd,
        crate::routing::daemon::DaemonArgs
    ),
    cmd!(
        "ospfd",
        crate::routing::ospfd::ospfd,
        crate::routing::daemon::DaemonArgs
    ),
    cmd!("bgpd", crate::routing::bgpd::bgpd, crate::routing::daemon::DaemonArgs),
    cmd!("vtysh", crate::routing::vtysh::vtysh, crate::routing::vtysh::VtyshArgs),
    cmd!("ping", ping::ping, ping::PingArgs),
    cmd!("ping6", ping6::ping6, ping6::Ping6Args),
    cmd!("traceroute", traceroute::traceroute, traceroute::TracerouteArgs),
    cmd!("traceroute6", traceroute6::traceroute6, traceroute6::Traceroute6Args),
    cmd!("nc", nc::nc, nc::NcArgs),
    cmd!("iperf3", iperf3::iperf3, iperf3::Iperf3Args),
    cmd!("tcpdump", tcpdump::tcpdump, tcpdump::TcpdumpArgs),
    cmd!("pipe", pipe::pipe, pipe::PipeArgs),
    cmd!("dmesg", pipe::dmesg, pipe::DmesgArgs),
    cmd!("hostname", hostname::hostname, hostname::HostnameArgs),
    cmd!("sleep", misc::sleep, misc::SleepArgs),
    cmd!("echo", misc::echo, misc::EchoArgs),
    cmd!("sh", sh::sh, sh::ShArgs),
    cmd!("help", misc::help, misc::HelpArgs),
];

/// A host name or dotted quad to an address (`gethostbyname`): numbers,
/// `localhost`, and the names the kernel's hosts table holds.
pub fn gethostbyname(p: &Proc, name: &str) -> Option<u32> {
    if let Some(a) = crate::net::route::inet_addr(name) {
        return Some(a);
    }
    if name == "localhost" {
        return Some(0x7f00_0001);
    }
    p.kernel().hosts.get(name).copied()
}

/// The source address a raw-socket tool (`ping`, `traceroute`) sends
/// from: `src` (0 = any) checked against the jail's addresses as bind(2)
/// would; on failure, the tool's message and exit status 1.
pub fn raw_source(p: &Proc, prog: &str, dst: u32, src: u32) -> Result<u32, i32> {
    let ip4 = p.kernel().prison_ip4(p.jid);
    match p.vnet(|_, v| crate::netinet::in_jail::prison_raw_src(v, ip4.as_deref(), dst, src)) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            errln!(p, "{prog}: bind: {e}");
            Err(1)
        }
        Err(e) => {
            errln!(p, "{prog}: {e}");
            Err(1)
        }
    }
}

/// An I/O error as FreeBSD's strerror(3) words it (no "(os error N)").
pub fn strerror(e: &std::io::Error) -> String {
    #[cfg(unix)]
    if let Some(n) = e.raw_os_error() {
        return nix::errno::Errno::from_raw(n).desc().to_string();
    }
    e.to_string()
}

/// Find a command by name.
pub fn lookup(name: &str) -> Option<&'static Cmd> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Run `argv` as a command of process `p`.
pub fn run(p: Proc, argv: Vec<String>) -> CmdFuture {
    let Some(name) = argv.first() else {
        return Box::pin(async { 0 });
    };
    if let Some(c) = lookup(name) {
        return (c.run)(p.exec(c.name), argv);
    }
    let path = p
        .env
        .as_ref()
        .and_then(|e| e.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone()));
    match hostproc::which(name, path.as_deref(), p.cwd.as_deref()) {
        Some(prog) => {
            let comm = name.rsplit('/').next().unwrap_or(name).to_string();
            Box::pin(hostproc::hostproc(p.exec(&comm), prog, argv))
        }
        None => {
            let name = name.clone();
            Box::pin(async move {
                errln!(p, "vimage: {name}: command not found (try 'help')");
                127
            })
        }
    }
}

/// Parse a command's arguments; on error print what getopt(3) would
/// (`cmd: illegal option -- x`, `cmd: option requires an argument -- c`,
/// or the problem in a word), then always the `usage:` text, and give the
/// exit status to return.
pub fn parse<T: Parser>(p: &Proc, argv: &[String]) -> Result<T, i32> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    T::try_parse_from(argv).map_err(|e| {
        let name = argv.first().map(String::as_str).unwrap_or("vimage");
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => Some(s.clone()),
            _ => None,
        };
        let flag = arg
            .as_deref()
            .and_then(|a| a.strip_prefix('-'))
            .map(|a| a.chars().next().unwrap_or('-'));
        match e.kind() {
            // A missing operand: the usage says it all.
            ErrorKind::MissingRequiredArgument | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {}
            ErrorKind::UnknownArgument if flag.is_some() => {
                errln!(p, "{name}: illegal option -- {}", flag.unwrap_or('?'));
            }
            ErrorKind::InvalidValue if flag.is_some() && e.to_string().contains("a value is required") => {
                errln!(p, "{name}: option requires an argument -- {}", flag.unwrap_or('?'));
            }
            _ => {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("").trim_start_matches("error: ");
                errln!(p, "{name}: {first}");
            }
        }
        usage(p, &T::command());
        1
    })
}

/// Print a command's `usage:` line to standard error.
pub fn usage(p: &Proc, c: &clap::Command) {
    let u = c.clone().render_usage().to_string();
    let u = u.replacen("Usage: \n", "usage:\n", 1).replacen("Usage: ", "usage: ", 1);
    errln!(p, "{u}");
}
