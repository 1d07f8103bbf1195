//! A routing daemon's life, as FRR's `lib/libfrr.c` gives each daemon:
//! its command line, its configuration, its state in the jail's [`Frr`],
//! running in the foreground or detached (`-d`), and on its end (exit,
//! signal, its jail removed) its routes withdrawn from the RIB and the
//! kernel.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use clap::Parser;

use super::conf::FrrConf;
use super::rib::Proto;
use super::{Frr, bgpd, frr_close, frr_open, ospfd, ripd};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::route::RTF_PROTO1;
use crate::net::rtsock::RtMsg;
use crate::socket::RouteSocket;

/// The daemons, by the name FRR gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    Ripd,
    Ripngd,
    Ospfd,
    Bgpd,
    Staticd,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Ripd => "ripd",
            Daemon::Ripngd => "ripngd",
            Daemon::Ospfd => "ospfd",
            Daemon::Bgpd => "bgpd",
            Daemon::Staticd => "staticd",
        }
    }

    fn proto(self) -> Proto {
        match self {
            Daemon::Ripd | Daemon::Ripngd => Proto::Rip,
            Daemon::Ospfd => Proto::Ospf,
            Daemon::Bgpd => Proto::Bgp,
            Daemon::Staticd => Proto::Static,
        }
    }

    fn running(self, f: &Frr) -> bool {
        match self {
            Daemon::Ripd => f.rip.is_some(),
            Daemon::Ripngd => f.ripng.is_some(),
            Daemon::Ospfd => f.ospf.is_some(),
            Daemon::Bgpd => f.bgp.is_some(),
            Daemon::Staticd => f.staticd,
        }
    }

    /// Its state, fresh from the running configuration.
    fn init(self, f: &mut Frr) {
        match self {
            Daemon::Ripd => {
                let conf = f.conf.rip.clone().unwrap_or_default();
                f.rip = Some(ripd::Rip::new(conf));
            }
            Daemon::Ripngd => {
                let conf = f.conf.ripng.clone().unwrap_or_default();
                f.ripng = Some(ripd::Rip::new(conf));
            }
            Daemon::Ospfd => {
                let conf = f.conf.ospf.clone().unwrap_or_default();
                f.ospf = Some(ospfd::Ospf::new(conf));
            }
            Daemon::Bgpd => {
                // Without `router bgp` it waits for one, as FRR's does.
                let conf = f.conf.bgp.clone().unwrap_or_else(|| super::conf::BgpConf::new(1));
                f.bgp = Some(bgpd::Bgp::new(conf));
            }
            Daemon::Staticd => f.staticd = true,
        }
    }

    fn clear(self, f: &mut Frr) {
        match self {
            Daemon::Ripd => f.rip = None,
            Daemon::Ripngd => f.ripng = None,
            Daemon::Ospfd => f.ospf = None,
            Daemon::Bgpd => f.bgp = None,
            Daemon::Staticd => f.staticd = false,
        }
    }
}

/// an FRR routing daemon: ripd speaks RIPv2, ripngd RIPng, ospfd OSPFv2, bgpd BGP-4, staticd installs `ip route`s (`-d -f frr.conf`)
#[derive(Parser, Debug)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct DaemonArgs {
    /// The configuration file (frr.conf).
    #[arg(short = 'f', long = "config_file", value_name = "file")]
    config: Option<String>,
    /// Go to the background.
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// FRR's vty, pid file and zebra options, accepted.
    #[arg(short = 'A', long = "vty_addr", hide = true)]
    _vty_addr: Option<String>,
    #[arg(short = 'P', long = "vty_port", hide = true)]
    _vty_port: Option<String>,
    #[arg(short = 'i', long = "pid_file", hide = true)]
    _pid: Option<String>,
    #[arg(short = 'z', long = "socket", hide = true)]
    _zebra: Option<String>,
}

impl DaemonArgs {
    /// The configuration `-f` names, its refused lines told on stderr;
    /// `Err` is the exit status if it cannot be read.
    pub fn read_conf(&self, p: &Proc, daemon: &str) -> Result<Option<FrrConf>, i32> {
        let Some(f) = &self.config else { return Ok(None) };
        match std::fs::read_to_string(f) {
            Ok(t) => {
                let (c, errors) = FrrConf::parse(&t);
                for e in errors {
                    errln!(p, "{daemon}: {f}: {e}");
                }
                Ok(Some(c))
            }
            Err(e) => {
                errln!(p, "{daemon}: {f}: {}", crate::userland::strerror(&e));
                Err(1)
            }
        }
    }
}

/// Start daemon `d` in `p`'s jail: its arguments parsed, its
/// configuration (`-f`, else the jail's running one) read, its state
/// made. `Err` is the exit status.
pub fn daemon_open(p: &Proc, argv: &[String], d: Daemon) -> Result<(DaemonArgs, Rc<RefCell<Frr>>), i32> {
    let a: DaemonArgs = crate::userland::parse(p, argv)?;
    let conf = a.read_conf(p, d.name())?;
    let frr = frr_open(p, p.now());
    if d.running(&frr.borrow()) {
        errln!(p, "{}: another {} runs in this jail", d.name(), d.name());
        return Err(1);
    }
    let mut f = frr.borrow_mut();
    if let Some(c) = conf {
        f.conf = c;
    }
    d.init(&mut f);
    drop(f);
    Ok((a, frr))
}

/// Daemon `d` ends: its routes go from the RIB and the kernel, its state
/// from the jail.
pub fn daemon_stop(p: &Proc, frr: &Rc<RefCell<Frr>>, d: Daemon) {
    let mut f = frr.borrow_mut();
    d.clear(&mut f);
    // ripngd's routes are IPv6's, staticd's both families', the others'
    // IPv4's.
    if let Ok(rs) = RouteSocket::open(p, None) {
        if d != Daemon::Ripngd {
            f.rib.withdraw_all(d.proto());
            f.rib.sync(p, &rs);
        }
        if matches!(d, Daemon::Ripngd | Daemon::Staticd) {
            f.rib6.withdraw_all(d.proto());
            f.rib6.sync(p, &rs);
        }
    }
    drop(f);
    frr_close(p, frr);
}

/// Run `serve` in the foreground, or detached with `-d`; however it
/// ends (killed with its jail, too) the daemon is stopped.
pub async fn daemon_run<F>(
    p: Proc,
    frr: Rc<RefCell<Frr>>,
    d: Daemon,
    background: bool,
    serve: impl FnOnce(Proc) -> F,
) -> i32
where
    F: Future<Output = i32> + 'static,
{
    if !background {
        let _guard = Running { p: p.clone(), frr, d };
        return serve(p).await;
    }
    let q = p.exec(d.name());
    let guard = Running { p: q.clone(), frr, d };
    let fut = serve(q);
    let id = p.spawn(Box::pin(async move {
        let _guard = guard;
        fut.await
    }));
    p.tasks().detach(id);
    0
}

struct Running {
    p: Proc,
    frr: Rc<RefCell<Frr>>,
    d: Daemon,
}

impl Drop for Running {
    fn drop(&mut self) {
        daemon_stop(&self.p, &self.frr, self.d);
    }
}

/// What woke a daemon.
pub enum Wake<T> {
    /// A signal: the daemon ends.
    Intr,
    /// Its socket's next message.
    Packet(T),
    /// The kernel's routes or interfaces changed (not by the RIB).
    Route,
    /// The running configuration changed since generation `seen`.
    Conf,
    /// Another daemon's routes in the RIBs changed.
    Rib,
    /// `until` came, or the socket failed.
    Timer,
}

/// A daemon's wait: for a signal, its socket (`recv`), a routing
/// message, a configuration change, another daemon's change of the RIBs
/// (its own, made before the wait, it tells the others of) or `until`,
/// whichever comes first.
/// The RIB's own writes (RTF_PROTO1) are no news, so a daemon does not
/// wake for the routes it just installed.
pub async fn daemon_wait<T>(
    p: &Proc,
    frr: &Rc<RefCell<Frr>>,
    seen: u64,
    recv: impl Future<Output = std::io::Result<T>>,
    rs: &RouteSocket,
    until: Time,
) -> Wake<T> {
    let mut recv = pin!(recv);
    let mut sleep = pin!(p.sleep_until(until));
    let rib_seen = frr.borrow_mut().rib_announce();
    loop {
        let mut rt = pin!(rs.recv());
        let w = poll_fn(|cx| {
            if p.intr.poll_raised(cx.waker()) {
                return Poll::Ready(Some(Wake::Intr));
            }
            if let Poll::Ready(r) = recv.as_mut().poll(cx) {
                return Poll::Ready(Some(r.map_or(Wake::Timer, Wake::Packet)));
            }
            if let Poll::Ready(m) = rt.as_mut().poll(cx) {
                let ours = matches!(m, Ok(RtMsg::Route { flags, .. }) if flags & RTF_PROTO1 != 0);
                if !ours {
                    let mut f = frr.borrow_mut();
                    f.rib.kernel_changed();
                    f.rib6.kernel_changed();
                }
                return Poll::Ready((!ours).then_some(Wake::Route));
            }
            let mut f = frr.borrow_mut();
            if f.generation != seen {
                return Poll::Ready(Some(Wake::Conf));
            }
            if f.rib_changes() != rib_seen {
                return Poll::Ready(Some(Wake::Rib));
            }
            f.watch(cx.waker());
            drop(f);
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Wake::Timer));
            }
            Poll::Pending
        })
        .await;
        if let Some(w) = w {
            return w;
        }
    }
}
