//! The vnet framework's contract (vnet(9)): constructor and destructor
//! order, late registration, iteration, the current vnet, typed access.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use vimage::vnet::VnetError;
use vimage::vnet::module::{SI_ORDER_ANY, SI_ORDER_FIRST, SI_ORDER_MIDDLE, SI_SUB_INIT_IF, SI_SUB_PROTO_DOMAIN};
use vimage::{Config, Kernel, Module, Prio, VnetId};

type Log = Rc<RefCell<Vec<String>>>;

/// A module whose constructor and destructor append to `log`, and whose
/// state remembers which vnet it was built for.
fn logged(name: &'static str, prio: Prio, log: &Log) -> Module<(String, VnetId)> {
    let (l1, l2) = (log.clone(), log.clone());
    Module::new(name, prio, move |_, v| {
        l1.borrow_mut().push(format!("+{name}@{}", v.id()));
        (name.to_string(), v.id())
    })
    .destructor(move |_, v, (n, id)| {
        assert_eq!(id, v.id(), "destructor got another vnet's state");
        l2.borrow_mut().push(format!("-{n}@{}", v.id()));
    })
}

fn kernel() -> Kernel {
    Kernel::new(&Config::default())
}

#[test]
fn constructors_ascend_and_destructors_descend() {
    let mut k = kernel();
    let log = Log::default();
    // Registered out of order on purpose.
    k.module_register(logged("c", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), &log))
        .expect("register c");
    k.module_register(logged("a", Prio::new(SI_SUB_INIT_IF, SI_ORDER_FIRST), &log))
        .expect("register a");
    k.module_register(logged("b", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE), &log))
        .expect("register b");
    // Same priority as b: registration order breaks the tie.
    k.module_register(logged("b2", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE), &log))
        .expect("register b2");
    log.borrow_mut().clear(); // the late constructions in vnet0

    let v = k.vnet_create(Some("x")).expect("create");
    let s = v.serial();
    k.vnet_destroy(v).expect("destroy");
    let expect: Vec<String> = ["+a", "+b", "+b2", "+c", "-c", "-b2", "-b", "-a"]
        .iter()
        .map(|e| format!("{e}@{s}"))
        .collect();
    assert_eq!(*log.borrow(), expect);
}

#[test]
fn late_registration_constructs_in_every_existing_vnet_and_unregister_destroys() {
    let mut k = kernel();
    let ids: Vec<VnetId> = (0..5).map(|_| k.vnet_create(None).expect("create")).collect();
    let log = Log::default();
    let key = k
        .module_register(logged("late", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), &log))
        .expect("register");
    // vnet0 and the five.
    assert_eq!(log.borrow().len(), 6);
    for &id in &ids {
        assert!(log.borrow().contains(&format!("+late@{id}")));
        let st = k.vnet(id).expect("vnet").get(key).cloned();
        assert_eq!(
            st,
            Some(("late".to_string(), id)),
            "typed access finds this vnet's state"
        );
    }
    // A vnet created now gets it too, in order with the others.
    let n = k.vnet_create(None).expect("create");
    assert!(log.borrow().contains(&format!("+late@{n}")));

    log.borrow_mut().clear();
    k.module_unregister(key).expect("unregister");
    assert_eq!(log.borrow().len(), 7, "destroyed in every vnet: {:?}", log.borrow());
    assert!(k.vnet(n).expect("vnet").get(key).is_none(), "a stale key finds nothing");
    assert_eq!(k.module_unregister(key), Err(VnetError::NoSuchModule));
    // Destroying a vnet now runs no destructor of the gone module.
    k.vnet_destroy(n).expect("destroy");
    assert_eq!(log.borrow().len(), 7);
}

#[test]
fn iteration_never_sees_half_built_or_dying_vnets() {
    let mut k = kernel();
    let seen = Rc::new(RefCell::new(Vec::<(String, bool)>::new()));
    let (s1, s2) = (seen.clone(), seen.clone());
    k.module_register(
        Module::new("peek", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), move |k, v| {
            let me = v.id();
            let all = k.vnet_foreach();
            s1.borrow_mut().push((format!("ctor {me}"), all.contains(&me)));
            assert!(
                k.vnets().lookup("half").is_none(),
                "lookup by name sees a half-built vnet"
            );
        })
        .destructor(move |k, v, ()| {
            let me = v.id();
            s2.borrow_mut()
                .push((format!("dtor {me}"), k.vnet_foreach().contains(&me)));
        }),
    )
    .expect("register");
    let id = k.vnet_create(Some("half")).expect("create");
    assert!(k.vnet_foreach().contains(&id));
    assert_eq!(k.vnets().lookup("half"), Some(id));
    k.vnet_destroy(id).expect("destroy");
    assert!(!k.vnet_foreach().contains(&id));
    // vnet0 (constructed late, already listed), then the new vnet's
    // construction and destruction, during which it must be invisible.
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1], (format!("ctor {id}"), false));
    assert_eq!(seen[2], (format!("dtor {id}"), false));
}

#[test]
fn registry_is_locked_while_a_vnet_is_being_built() {
    let mut k = kernel();
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    k.module_register(Module::new(
        "reentrant",
        Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY),
        move |k, _| {
            let e = k.module_register(Module::new("inner", Prio::new(0, 0), |_, _| ()));
            *r.borrow_mut() = Some(e.map(|_| ()));
        },
    ))
    .expect("register");
    k.vnet_create(None).expect("create");
    assert_eq!(*result.borrow(), Some(Err(VnetError::RegistryBusy)));
}

#[test]
fn curvnet_nests_and_is_restored_even_by_a_panic() {
    let mut k = kernel();
    let a = k.vnet_create(Some("a")).expect("a");
    let b = k.vnet_create(Some("b")).expect("b");
    assert_eq!(k.curvnet(), Err(VnetError::NoCurVnet));
    {
        let mut ka = k.curvnet_set(a).expect("set a");
        assert_eq!(ka.curvnet(), Ok(a));
        {
            let kb = ka.curvnet_set(b).expect("set b");
            assert_eq!(kb.curvnet(), Ok(b));
        }
        assert_eq!(ka.curvnet(), Ok(a), "CURVNET_RESTORE back to a");
        let r = catch_unwind(AssertUnwindSafe(|| {
            let kb = ka.curvnet_set(b).expect("set b");
            assert_eq!(kb.curvnet(), Ok(b));
            panic!("unwinding through CURVNET_SET");
        }));
        assert!(r.is_err());
        assert_eq!(ka.curvnet(), Ok(a), "restored during unwinding");
    }
    assert_eq!(k.curvnet(), Err(VnetError::NoCurVnet));
}

#[test]
fn destroyed_and_unknown_vnets_give_clear_errors() {
    let mut k = kernel();
    let v = k.vnet_create(Some("gone")).expect("create");
    k.vnet_destroy(v).expect("destroy");
    assert!(matches!(k.vnet_destroy(v), Err(VnetError::NoSuchVnet(_))));
    assert!(matches!(k.vnet(v), Err(VnetError::NoSuchVnet(_))));
    assert!(k.curvnet_set(v).is_err());
    assert_eq!(k.vnets().lookup("gone"), None);
    // A new vnet reuses the slot but never the identity.
    let w = k.vnet_create(Some("gone")).expect("recreate");
    assert_ne!(v, w);
    assert!(k.vnet(v).is_err());
    assert!(k.vnet(w).is_ok());
    assert_eq!(k.vnet_create(Some("gone")), Err(VnetError::NameInUse("gone".into())));
}

#[test]
fn vnet0_exists_from_boot_and_cannot_be_destroyed() {
    let mut k = kernel();
    let v0 = k.vnet0();
    assert_eq!(k.vnets().lookup("vnet0"), Some(v0));
    assert_eq!(k.vnet_destroy(v0), Err(VnetError::Vnet0));
    assert_eq!(k.vnet_foreach(), vec![v0]);
    assert_eq!(k.prison_vnet(vimage::Jid::HOST), Ok(v0));
}

#[test]
fn builtin_modules_cannot_be_unregistered() {
    let mut k = kernel();
    assert!(matches!(
        k.module_unregister(vimage::netinet::ip::IP),
        Err(VnetError::Builtin(_))
    ));
}

#[test]
fn each_vnet_has_its_own_seeded_generator() {
    let draws = |seed| {
        let mut k = Kernel::new(&Config {
            seed,
            ..Config::default()
        });
        let a = k.vnet_create(None).expect("a");
        let b = k.vnet_create(None).expect("b");
        let x = k.vnet(a).expect("a").random();
        let y = k.vnet(b).expect("b").random();
        (x, y)
    };
    let (x, y) = draws(7);
    assert_ne!(x, y, "vnets draw different streams");
    assert_eq!(draws(7), (x, y), "same seed, same draws");
    assert_ne!(draws(8), (x, y), "another seed, other draws");
}
