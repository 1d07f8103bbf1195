//! jail(8), jls(8), jexec(8), hostname(1): the hierarchy, parameters,
//! output formats and FreeBSD's errors.

use vimage::{Host, Jid};

fn host() -> Host {
    Host::new(Default::default())
}

#[track_caller]
fn ok(h: &Host, cmd: &str) -> String {
    let o = h.exec(cmd);
    assert_eq!((o.status, o.stderr.as_str()), (0, ""), "{cmd}: {o:?}");
    o.stdout
}

#[track_caller]
fn fails(h: &Host, cmd: &str, err: &str) {
    let o = h.exec(cmd);
    assert_eq!((o.status, o.stderr.as_str()), (1, err), "{cmd}: {o:?}");
}

#[test]
fn create_list_and_remove() {
    let h = host();
    // Success is silent, as jail(8) is for command-line jails.
    assert_eq!(ok(&h, "jail -c name=r1 vnet persist host.hostname=r1"), "");
    assert_eq!(
        ok(&h, "jail -i -c name=r2 vnet persist host.hostname=r2.lab.example"),
        "2\n"
    );
    assert_eq!(
        ok(&h, "jls"),
        "   JID  IP Address      Hostname                      Path\n     1                  r1                            /\n     2                  r2.lab.example                /\n"
    );
    assert_eq!(
        ok(&h, "jls -v -j r2"),
        "   JID  Hostname                      Path\n        Name                          State\n        CPUSetID\n        IP Address(es)\n     2  r2.lab.example                /\n        r2                            ACTIVE\n        3\n"
    );
    assert_eq!(
        ok(&h, "jls -N"),
        " JID             IP Address      Hostname                      Path\n r1                              r1                            /\n r2                              r2.lab.example                /\n"
    );
    assert_eq!(ok(&h, "jls name jid vnet"), "r1 1 new\nr2 2 new\n");
    assert_eq!(ok(&h, "jls -h jid name"), "jid name\n1 r1\n2 r2\n");
    assert_eq!(
        ok(&h, "jls -n -j r1"),
        "jid=1 name=r1 parent=0 path=/ persist vnet=new children.cur=0 children.max=0 host=new host.hostname=r1\n"
    );
    assert_eq!(ok(&h, "jexec r1 hostname"), "r1\n");
    assert_eq!(ok(&h, "jexec 2 hostname -s"), "r2\n");
    assert_eq!(ok(&h, "jexec r2 hostname -d"), "lab.example\n");
    assert_eq!(ok(&h, "hostname"), "vimage\n");
    assert_eq!(h.kernel().vnets().len(), 3);
    assert_eq!(ok(&h, "jail -r r1"), "");
    assert_eq!(ok(&h, "jls name"), "r2\n");
    assert_eq!(h.kernel().vnets().len(), 2, "r1's vnet is destroyed");
    assert_eq!(ok(&h, "jail -r '*'"), "r2: removed\n");
    assert_eq!(h.kernel().vnets().len(), 1);
}

#[test]
fn hierarchy_names_limits_and_vnet_inheritance() {
    let h = host();
    // children.max defaults to 0.
    ok(&h, "jail -c name=lab persist");
    fails(&h, "jail -c name=lab.r1 vnet persist", "jail: prison limit exceeded\n");
    ok(&h, "jail -m name=lab children.max=2");
    ok(&h, "jail -c name=lab.r1 vnet persist host.hostname=r1");
    ok(&h, "jail -c name=lab.h1 persist");
    fails(&h, "jail -c name=lab.h2 persist", "jail: prison limit exceeded\n");
    fails(&h, "jail -c name=nope.r1 persist", "jail: jail \"nope\" not found\n");
    // Inside lab, the children have short names; jls shows only them.
    assert_eq!(ok(&h, "jexec lab jls name"), "r1\nh1\n");
    assert_eq!(ok(&h, "jls name"), "lab\nlab.r1\nlab.h1\n");
    assert_eq!(ok(&h, "jexec lab jexec r1 hostname"), "r1\n");
    // lab has children.max 2 but its child may not create (its own is 0).
    fails(
        &h,
        "jexec lab.r1 jail -c name=x persist",
        "jail: jail_set: Operation not permitted\n",
    );
    // vnet=inherit (the default) shares the parent's vnet.
    let k = h.kernel();
    let id = |n: &str| k.jail_getid(Jid::HOST, n).expect(n);
    let v = |n: &str| k.prison_vnet(id(n)).expect(n);
    assert_eq!(v("lab"), k.vnet0());
    assert_eq!(v("lab.h1"), k.vnet0());
    assert_ne!(v("lab.r1"), k.vnet0());
    drop(k);
    // A copy of the parent's hostname unless set (host=new), or the
    // parent's itself (host=inherit).
    assert_eq!(ok(&h, "jexec lab.h1 hostname"), "vimage\n");
    ok(&h, "jail -m name=lab.h1 host=inherit");
    ok(&h, "jail -m name=lab host.hostname=lab.example");
    assert_eq!(ok(&h, "jexec lab.h1 hostname"), "lab.example\n");
    // Removing the parent removes the children and their vnets.
    assert_eq!(h.kernel().vnets().len(), 2);
    ok(&h, "jail -r lab");
    assert_eq!(
        ok(&h, "jls"),
        "   JID  IP Address      Hostname                      Path\n"
    );
    assert_eq!(h.kernel().vnets().len(), 1);
}

#[test]
fn freebsd_errors() {
    let h = host();
    ok(&h, "jail -c name=r1 vnet persist");
    fails(&h, "jail -c name=r1 persist", "jail: \"r1\" already exists\n");
    fails(&h, "jail -c name=x jid=1 persist", "jail: jail 1 already exists\n");
    fails(&h, "jail -c name=x persist bogus=1", "jail: unknown parameter: bogus\n");
    fails(&h, "jail -c name=x", "jail: new jail must persist or attach\n");
    fails(
        &h,
        "jail -c name=x vnet=disable persist",
        "jail: jail_set: Invalid argument\n",
    );
    fails(
        &h,
        "jail -c name=7 jid=8 persist",
        "jail: name cannot be numeric (unless it is the jid)\n",
    );
    fails(
        &h,
        "jail -m name=r1 vnet=inherit",
        "jail: vnet cannot be changed after creation\n",
    );
    ok(&h, "jail -m name=r1 vnet=new"); // unchanged: accepted
    fails(&h, "jail -r r9", "jail: \"r9\" not found\n");
    fails(&h, "jail -m name=r9 persist", "jail: \"r9\" not found\n");
    fails(&h, "jail -m persist", "jail: no jail specified\n");
    fails(&h, "jexec r9 hostname", "jexec: jail \"r9\" not found\n");
    fails(&h, "jexec 42 hostname", "jexec: jail 42 not found\n");
    fails(&h, "jls -j r9", "jls: jail \"r9\" not found\n");
    fails(&h, "jls bogus", "jls: unknown parameter: bogus\n");
    let o = h.exec("jail -c -r name=x");
    assert!(o.stderr.starts_with("usage: jail"), "{o:?}");
    let o = h.exec("jexec");
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("usage: jexec"), "{o:?}");
    // Without host.hostname a jail starts with its parent's name.
    ok(&h, "jail -c name=p persist host.hostname=parent.example children.max=1");
    ok(&h, "jail -c name=p.c persist");
    assert_eq!(ok(&h, "jexec p.c hostname"), "parent.example\n");
    assert_eq!(ok(&h, "jexec p hostname"), "parent.example\n");
    // A numeric name must be the jid.
    fails(
        &h,
        "jail -c name=12 jid=11 persist",
        "jail: name cannot be numeric (unless it is the jid)\n",
    );
    // No command: a shell in the jail, reading its commands from input.
    assert_eq!(ok(&h, "echo hostname | jexec p.c"), "parent.example\n");
    // A numeric name is the jid.
    ok(&h, "jail -c name=7 persist");
    assert_eq!(ok(&h, "jls -j 7 jid name"), "7 7\n");
    // Jails cannot see or touch what is not below them.
    ok(&h, "jail -c name=other persist");
    fails(&h, "jexec r1 jexec other hostname", "jexec: jail \"other\" not found\n");
    fails(&h, "jexec r1 jexec 0 hostname", "jexec: jail 0 not found\n");
    let o = h.exec("vimage-no-such-command");
    assert_eq!(o.status, 127);
}

#[test]
fn a_jail_without_persist_lives_as_long_as_its_command() {
    let h = host();
    assert_eq!(
        ok(&h, "jail -c name=tmp vnet command=sysctl -n security.jail.vnet"),
        "1\n"
    );
    assert_eq!(ok(&h, "jls name"), "", "gone with its last process");
    assert_eq!(h.kernel().vnets().len(), 1, "and its vnet with it");
    // nopersist on a jail with no process removes it.
    ok(&h, "jail -c name=p persist");
    ok(&h, "jail -m name=p nopersist");
    assert_eq!(ok(&h, "jls name"), "");
}

#[test]
fn hostname_is_virtualized() {
    let h = host();
    ok(&h, "jail -c name=a persist host.hostname=a");
    ok(&h, "jexec a hostname b.example.org");
    assert_eq!(ok(&h, "jexec a hostname"), "b.example.org\n");
    assert_eq!(ok(&h, "jexec a sysctl -n kern.hostname"), "b.example.org\n");
    assert_eq!(ok(&h, "hostname"), "vimage\n");
    let o = h.exec("hostname -s -d");
    assert_eq!(o.status, 1);
}
