//! The engine: virtual time, timers, determinism, processes.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use vimage::kern::callout::Action;
use vimage::vnet::module::{SI_ORDER_ANY, SI_SUB_PROTO_DOMAIN};
use vimage::{Config, Host, Kernel, Module, Prio, Time, VnetKey};

/// Per-vnet state of a module that wakes up at random intervals.
#[derive(Default)]
struct Chatter {
    log: Vec<(Time, u64)>,
}

/// Arm a timer in vnet `id` after a random delay drawn from its generator.
fn arm(k: &mut Kernel, key: VnetKey<Chatter>, id: vimage::VnetId) {
    let Ok(v) = k.vnet(id) else { return };
    let delay = Duration::from_micros(v.random() % 1_000_000);
    k.timeout(
        delay,
        Action::Call(Box::new(move |k| {
            let r = k.with_vnet(id, |k, v| {
                let now = k.now();
                let draw = v.random();
                if let Some(c) = v.get_mut(key) {
                    c.log.push((now, draw));
                }
            });
            if r.is_ok() {
                arm(k, key, id);
            }
        })),
    );
}

/// 50 vnets chattering for 10 virtual seconds; every vnet's log.
fn scenario(seed: u64) -> Vec<Vec<(Time, u64)>> {
    let host = Host::new(Config {
        seed,
        ..Config::default()
    });
    let key = host
        .kernel()
        .module_register(Module::new(
            "chatter",
            Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY),
            |_, _| Chatter::default(),
        ))
        .expect("register");
    let ids: Vec<_> = (0..50)
        .map(|_| host.kernel().vnet_create(None).expect("create"))
        .collect();
    for &id in &ids {
        arm(&mut host.kernel(), key, id);
    }
    host.run_for(Duration::from_secs(10));
    assert_eq!(host.now(), Time(10_000_000_000));
    let mut k = host.kernel();
    ids.iter()
        .map(|&id| std::mem::take(&mut k.vnet(id).expect("vnet").get_mut(key).expect("state").log))
        .collect()
}

#[test]
fn the_virtual_clock_repeats_a_run_exactly() {
    let a = scenario(42);
    let b = scenario(42);
    assert!(a.iter().all(|l| l.len() > 5), "every vnet ran");
    assert_eq!(a, b);
    assert_ne!(a, scenario(43), "another seed, another run");
}

#[test]
fn a_million_timers_with_cancellation() {
    let mut k = Kernel::new(&Config::default());
    let fired = Rc::new(Cell::new(0u64));
    let last = Rc::new(Cell::new(Time::ZERO));
    let mut ids = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000u64 {
        let (f, l) = (fired.clone(), last.clone());
        // Deadlines out of order.
        let when = Time((i * 7_919) % 1_000_003 * 1_000);
        ids.push(k.timeout_at(
            when,
            Action::Call(Box::new(move |k| {
                assert!(k.now() >= l.get(), "fired out of order");
                l.set(k.now());
                f.set(f.get() + 1);
            })),
        ));
    }
    assert_eq!(k.timers_pending(), 1_000_000);
    for id in ids.iter().step_by(2) {
        assert!(k.untimeout(*id));
    }
    assert_eq!(k.timers_pending(), 500_000);
    while let Some(t) = k.next_deadline() {
        k.clock_advance_to(t);
        k.run_due();
    }
    assert_eq!(fired.get(), 500_000);
    assert_eq!(k.timers_pending(), 0);
}

#[test]
fn idle_vnets_cost_nothing() {
    let host = Host::new(Config::default());
    for _ in 0..100_000 {
        host.kernel().vnet_create(None).expect("create");
    }
    host.run_for(Duration::from_secs(3600));
    let k = host.kernel();
    assert_eq!(k.stats.events, 0, "no event ran for idle vnets");
    assert_eq!(k.timers_pending(), 0);
    assert_eq!(k.now(), Time(3_600_000_000_000));
}

#[test]
fn timers_of_a_destroyed_vnet_never_run_in_it() {
    let host = Host::new(Config::default());
    let mut k = host.kernel();
    let v = k.vnet_create(None).expect("create");
    k.timeout(
        Duration::from_secs(1),
        Action::Vnet {
            vnet: v,
            f: |_, _, _| panic!("ran in a destroyed vnet"),
            arg: 0,
        },
    );
    k.vnet_destroy(v).expect("destroy");
    drop(k);
    host.run_until_idle();
    assert_eq!(host.kernel().stats.events, 1, "fired, found no vnet, did nothing");
}

#[test]
fn processes_sleep_in_virtual_time_and_run_side_by_side() {
    let host = Host::new(Config::default());
    let (out, buf) = vimage::Out::buffer();
    let io = vimage::Stdio {
        stdin: vimage::In::null(),
        stdout: out.clone(),
        stderr: out,
    };
    let slow = host.spawn(["sleep", "5"].map(String::from).to_vec(), io.clone());
    let fast = host.spawn(["sleep", "250ms"].map(String::from).to_vec(), io.clone());
    assert_eq!(host.wait(fast), Ok(0));
    assert_eq!(host.now(), Time(250_000_000));
    assert_eq!(host.wait(slow), Ok(0));
    assert_eq!(host.now(), Time(5_000_000_000));
    let bad = host.spawn(["sleep", "soon"].map(String::from).to_vec(), io);
    assert_eq!(host.wait(bad), Ok(1));
    assert_eq!(
        String::from_utf8_lossy(&buf.borrow()),
        "sleep: invalid duration 'soon'\n"
    );
}
