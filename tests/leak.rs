//! Destroy frees everything: 100,000 vnets with every module, created and
//! destroyed, leave the process's heap where it was. (Alone in its test
//! binary: the allocator counts the whole process.)

use std::cell::Cell;
use std::rc::Rc;

use vimage::alloc::{CountingAlloc, live_bytes};
use vimage::vnet::module::{SI_ORDER_ANY, SI_SUB_PSEUDO};
use vimage::{Config, Host, Module, Prio};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn creating_and_destroying_100000_vnets_leaks_nothing() {
    let host = Host::new(Config::default());
    let (made, gone) = (Rc::new(Cell::new(0u32)), Rc::new(Cell::new(0u32)));
    let (m, g) = (made.clone(), gone.clone());
    host.kernel()
        .module_register(
            Module::new("probe", Prio::new(SI_SUB_PSEUDO, SI_ORDER_ANY), move |_, _| {
                m.set(m.get() + 1);
                vec![0u8; 64]
            })
            .destructor(move |_, _, _| g.set(g.get() + 1)),
        )
        .expect("register");
    let n = 100_000usize;
    let mut ids = Vec::with_capacity(n);
    // Warm up whatever grows once.
    for round in 0..2 {
        let before = live_bytes().expect("counting allocator installed");
        made.set(0);
        gone.set(0);
        let mut k = host.kernel();
        for i in 0..n {
            ids.push(k.vnet_create(Some(&format!("v{i}"))).expect("create"));
        }
        assert_eq!(k.vnets().len(), n + 1);
        let grown = live_bytes().unwrap_or(0) - before;
        // Destroy in a scrambled order, to exercise the free list.
        let mut order: Vec<usize> = (0..n).collect();
        let mut x = 12345u64;
        for i in (1..n).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (x >> 33) as usize % (i + 1));
        }
        for i in order {
            k.vnet_destroy(ids[i]).expect("destroy");
        }
        ids.clear();
        assert_eq!(k.vnets().len(), 1, "only vnet0 is left");
        drop(k);
        let after = live_bytes().unwrap_or(usize::MAX);
        assert_eq!(
            (made.get(), gone.get()),
            (n as u32, n as u32),
            "every ctor and dtor ran once"
        );
        eprintln!(
            "round {round}: grew {grown} bytes for {n} vnets, {} bytes left over",
            after as i64 - before as i64
        );
        if round == 1 {
            assert!(after <= before + 64 * 1024, "leaked {} bytes", after - before);
        }
    }
}
