//! The kernel: the one place that owns the vnets, the module registry, the
//! sysctl tree, the jails, the clock and the timers.
//!
//! Everything here is sans-IO: the [`Host`](crate::Host) drives it by
//! advancing the clock and running what is due.

pub mod callout;
pub mod clock;
pub mod counter;
pub mod global;
pub mod jail;
pub mod mbuf;
pub mod netisr;
pub mod pipe;
pub mod poller;
pub mod proc;
pub mod sockbuf;
pub mod sysctl;
pub mod task;
pub mod tty;

use std::collections::VecDeque;

use std::time::Duration;

use callout::{Action, Callout, TimerId};
use clock::{Clock, ClockKind, Time};
use jail::{Jid, Prisons};
use sysctl::{Ctype, Oid, SysctlTree, Value};

use crate::vnet::module::ModuleRegistry;
use crate::vnet::{Vnet, VnetError, VnetId, VnetTable};
use global::Globals;
use netisr::{Frame, Netisr, netisr_dispatch};

/// How a host starts.
#[derive(Clone, Debug)]
pub struct Config {
    pub clock: ClockKind,
    /// The seed of the whole run: every vnet's generator derives from it.
    pub seed: u64,
    /// prison0's hostname.
    pub hostname: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clock: ClockKind::Virtual,
            seed: DEFAULT_SEED,
            hostname: "vimage".into(),
        }
    }
}

/// Counters of the engine itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Timers fired.
    pub events: u64,
    /// Frames delivered to interfaces.
    pub frames: u64,
}

/// Something from outside the engine's thread: a frame from a host TAP
/// device, or a nudge (a line typed at the shell).
#[derive(Debug)]
pub enum Ext {
    Frame { index: u32, generation: u32, data: Vec<u8> },
    Wake,
}

/// A ^C at this process's terminal, not yet passed on (set by the signal
/// handler of `vimage`'s shell and one-shot commands; see
/// [`Host::wait_fg`](crate::Host::wait_fg)).
pub static SIGINT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The seed of a run unless one is given: the same for the shell, labs
/// and commands.
pub const DEFAULT_SEED: u64 = 1;

/// Lines the kernel message buffer keeps (`dmesg`).
pub const MSGBUF_LINES: usize = 1000;

/// The kernel. See the module docs.
pub struct Kernel {
    pub(crate) vnets: VnetTable,
    pub(crate) modules: ModuleRegistry,
    pub(crate) sysctl: SysctlTree,
    pub(crate) prisons: Prisons,
    pub(crate) callout: Callout,
    pub(crate) clock: Clock,
    pub(crate) curvnet: Option<VnetId>,
    pub(crate) seed: u64,
    pub(crate) vnet0: VnetId,
    /// Frames in flight and the registrations between layers.
    pub netisr: Netisr,
    /// Each layer's kernel-wide state.
    pub globals: Globals,
    /// The wait for the outside world, and what comes from it.
    poller: std::rc::Rc<poller::Poller>,
    msgbuf: VecDeque<(Time, String)>,
    pub stats: EngineStats,
    /// The last process id given out (`kern.lastpid`).
    lastpid: u32,
    /// Names every jail can resolve (an /etc/hosts: a lab's node names).
    pub hosts: rustc_hash::FxHashMap<String, u32>,
    /// Their IPv6 addresses, in a dual-stack lab.
    pub hosts6: rustc_hash::FxHashMap<String, std::net::Ipv6Addr>,
    /// What a jail's daemons name for their clients to reach, as a unix
    /// socket's path would (FRR's `/var/run/frr/*.vty`, which vtysh
    /// opens): by jail and name. The daemons remove their own.
    pub vty: rustc_hash::FxHashMap<(Jid, &'static str), std::rc::Rc<dyn std::any::Any>>,
    /// Processes waiting on the outside world (the terminal, a host
    /// program): with nothing else to do the engine waits for them rather
    /// than give up.
    pub outside: std::rc::Rc<std::cell::Cell<usize>>,
    /// Host programs of a foreground command that run on their own (no
    /// process here feeds them): the virtual clock stands still for them.
    pub hold: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Kernel {
    /// Boot with the layers `attach` registers (their modules, globals
    /// and netisr handlers), then create vnet0 and prison0.
    /// [`Kernel::new`] attaches the built-in network stack.
    pub fn boot(cfg: &Config, attach: impl FnOnce(&mut Kernel)) -> Kernel {
        let mut k = Kernel {
            vnets: VnetTable::new(),
            modules: ModuleRegistry::default(),
            sysctl: SysctlTree::default(),
            prisons: Prisons::new(VnetId::VNET0, &cfg.hostname),
            callout: Callout::default(),
            clock: Clock::new(cfg.clock),
            curvnet: None,
            seed: cfg.seed,
            vnet0: VnetId::VNET0,
            netisr: Netisr::default(),
            globals: Globals::default(),
            poller: Default::default(),
            msgbuf: VecDeque::new(),
            lastpid: 0,
            hosts: Default::default(),
            hosts6: Default::default(),
            vty: Default::default(),
            outside: Default::default(),
            hold: Default::default(),
            stats: EngineStats::default(),
        };
        attach(&mut k);
        k.kern_sysctls();
        // The first vnet of an empty table is vnet0, built like any other.
        let v0 = k.vnet_create(Some("vnet0"));
        debug_assert_eq!(v0, Ok(VnetId::VNET0));
        k
    }

    fn kern_sysctls(&mut self) {
        let seed = self.seed;
        let clock = match self.clock.kind() {
            ClockKind::Virtual => "virtual",
            ClockKind::Real => "real",
        };
        let oids = [
            Oid::constant("kern.ostype", "Operating system type", Value::Str("vimage".into())),
            Oid::constant(
                "kern.osrelease",
                "Operating system release",
                Value::Str(env!("CARGO_PKG_VERSION").into()),
            ),
            Oid::constant("kern.features.vimage", "VIMAGE kernel virtualization", Value::Int(1)),
            Oid::constant(
                "kern.vimage.seed",
                "Seed of this run's random generators",
                Value::Int(seed.into()),
            ),
            Oid::constant("kern.vimage.clock", "Clock driving this run", Value::Str(clock.into())),
            Oid::global("kern.hostname", "Hostname", Ctype::String, |k, cred, new| {
                let old = k.prison_hostname(cred);
                if let Some(Value::Str(s)) = new {
                    k.prison_set_hostname(cred, s).map_err(|_| sysctl::SysctlError::Perm)?;
                }
                Ok(Value::Str(old))
            }),
            Oid::global("kern.vimage.vnets", "Number of vnets", Ctype::Uint, |k, _, _| {
                Ok(Value::Int(k.vnets.len() as i128))
            })
            .read_only(),
            Oid::global("security.jail.jailed", "Process in jail?", Ctype::Int, |_, cred, _| {
                Ok(Value::Int((cred != Jid::HOST) as i128))
            })
            .read_only(),
            Oid::global("security.jail.vnet", "Jail owns vnet?", Ctype::Int, |k, cred, _| {
                let own = cred != Jid::HOST && k.prison(cred).is_some_and(|p| p.owns_vnet());
                Ok(Value::Int(own as i128))
            })
            .read_only(),
        ];
        for o in oids {
            self.sysctl.add(o);
        }
    }

    /// The current time.
    pub fn now(&self) -> Time {
        self.clock.now()
    }

    /// `t` as wall-clock time (the epoch, for virtual runs, is 1970).
    pub fn wallclock(&self, t: Time) -> Duration {
        self.clock.wallclock(t)
    }

    pub fn clock_kind(&self) -> ClockKind {
        self.clock.kind()
    }

    /// The default vnet, which exists from boot and is never destroyed.
    pub fn vnet0(&self) -> VnetId {
        self.vnet0
    }

    /// The vnet list.
    pub fn vnets(&self) -> &VnetTable {
        &self.vnets
    }

    /// Mutable access to one vnet.
    pub fn vnet(&mut self, id: VnetId) -> Result<&mut Vnet, VnetError> {
        self.vnets.get_mut(id)
    }

    /// Run `f` inside vnet `id` (it is current for the call), with the rest
    /// of the kernel reachable.
    pub fn with_vnet<R>(&mut self, id: VnetId, f: impl FnOnce(&mut Kernel, &mut Vnet) -> R) -> Result<R, VnetError> {
        let mut v = self.vnets.take(id)?;
        let saved = self.curvnet.replace(id);
        let r = f(self, &mut v);
        self.curvnet = saved;
        self.vnets.put_back(v);
        Ok(r)
    }

    /// `callout_reset`: run `action` after `after`.
    pub fn timeout(&mut self, after: Duration, action: Action) -> TimerId {
        let when = self.now().saturating_add(after);
        self.callout.schedule(when, action)
    }

    /// Run `action` at the absolute time `when`.
    pub fn timeout_at(&mut self, when: Time, action: Action) -> TimerId {
        self.callout.schedule(when, action)
    }

    /// `callout_stop`.
    pub fn untimeout(&mut self, id: TimerId) -> bool {
        self.callout.cancel(id)
    }

    /// Pending timers.
    pub fn timers_pending(&self) -> usize {
        self.callout.len()
    }

    /// Move the clock to `t` (virtual: jump; real: wait). The engine's
    /// step, for drivers other than [`Host`](crate::Host).
    pub fn clock_advance_to(&mut self, t: Time) {
        self.clock.advance_to(t)
    }

    /// When the next event is due: now, if frames are in flight.
    pub fn next_deadline(&mut self) -> Option<Time> {
        if self.netisr.is_empty() {
            self.callout.next_deadline()
        } else {
            Some(self.now())
        }
    }

    /// Run everything due now: frames in flight first, then timers (which
    /// may send more frames), until nothing is left at this instant.
    pub fn run_due(&mut self) -> usize {
        let now = self.now();
        let mut n = 0;
        loop {
            while let Some(f) = self.netisr.queue.pop_front() {
                self.stats.frames += 1;
                netisr_dispatch(self, f);
                n += 1;
            }
            let Some(a) = self.callout.pop_due(now) else { break };
            n += 1;
            self.stats.events += 1;
            match a {
                Action::Vnet { vnet, f, arg } => {
                    // A vnet destroyed meanwhile gets nothing.
                    let _ = self.with_vnet(vnet, |k, v| f(k, v, arg));
                }
                Action::Wake(w) => w.wake(),
                Action::Call(f) => f(self),
                Action::Netisr(f) => self.netisr.enqueue(f),
                Action::Fn { f, arg } => f(self, arg),
            }
        }
        n
    }

    /// A sender for events from other threads (TAP readers, the terminal).
    /// A new process id.
    pub fn alloc_pid(&mut self) -> u32 {
        self.lastpid = self.lastpid % 99_999 + 1;
        self.lastpid
    }

    pub fn ext_sender(&self) -> poller::ExtSender {
        self.poller.sender()
    }

    /// The engine's wait, for tasks watching host descriptors.
    pub fn poller(&self) -> std::rc::Rc<poller::Poller> {
        self.poller.clone()
    }

    /// Real clock: wait for an outside event until `deadline` (forever if
    /// `None`), queueing what comes. True if something came.
    pub fn wait_external(&mut self, deadline: Option<Time>) -> bool {
        let timeout = deadline.map(|t| t.saturating_sub(self.now()));
        let poller = self.poller.clone();
        poller.wait(timeout, |e| self.take_ext(e))
    }

    fn take_ext(&mut self, e: Ext) {
        if let Ext::Frame {
            index,
            generation,
            data,
        } = e
        {
            self.netisr.enqueue(Frame {
                index,
                generation,
                m: mbuf::Mbuf::from_slice(&data),
            });
        }
    }

    /// Write a line to the kernel message buffer (log(9)); `dmesg` shows it.
    pub fn log(&mut self, msg: String) {
        if self.msgbuf.len() >= MSGBUF_LINES {
            self.msgbuf.pop_front();
        }
        self.msgbuf.push_back((self.now(), msg));
    }

    /// The kernel message buffer.
    pub fn dmesg(&self) -> impl Iterator<Item = &(Time, String)> {
        self.msgbuf.iter()
    }
}
