//! ifconfig(8) as FreeBSD's: what setting an address does, the address
//! family filters, names and descriptions, and cloned interfaces.

mod common;

use common::ok;

#[test]
fn an_address_brings_the_interface_up() {
    // ether_ioctl(SIOCSIFADDR) sets IFF_UP: no `up` needed.
    let h = common::pair_lab("192.168.1.10/24", "192.168.1.11/24");
    let out = ok(&h, "jexec a ifconfig epair0a");
    assert!(
        out.starts_with("epair0a: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP>"),
        "{out}"
    );
    let out = ok(&h, "jexec a ping -c 1 192.168.1.11");
    assert!(out.contains("1 packets received"), "{out}");
    // `down` after the address still wins.
    ok(&h, "jexec a ifconfig epair0a inet 192.168.1.10/24 down");
    let out = ok(&h, "jexec a ifconfig epair0a");
    assert!(out.starts_with("epair0a: flags=1008842<BROADCAST,"), "{out}");
}
