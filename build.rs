//! The one native library vimage links: libpcap, whose filter compiler
//! tcpdump uses (pcap-filter(7) is libpcap's language). On a Debian or
//! Ubuntu machine where it is missing and we are root, install it, so a
//! fresh machine needs nothing done by hand; elsewhere say what to do.

use std::path::Path;
use std::process::Command;

fn have_libpcap() -> bool {
    if Command::new("pkg-config")
        .args(["--exists", "libpcap"])
        .status()
        .is_ok_and(|s| s.success())
    {
        return true;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let multiarch = target.replace("-unknown-", "-");
    let dirs = [
        "/usr/lib".to_string(),
        "/usr/lib64".to_string(),
        "/usr/local/lib".to_string(),
        "/opt/homebrew/lib".to_string(),
        format!("/usr/lib/{multiarch}"),
    ];
    let names = ["libpcap.so", "libpcap.dylib", "libpcap.a", "libpcap.tbd"];
    dirs.iter().any(|d| names.iter().any(|n| Path::new(d).join(n).exists()))
        || Path::new("/Library/Developer/CommandLineTools/SDKs").exists()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") || have_libpcap() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = Path::new("/usr/bin/apt-get").exists();
    if root && apt {
        println!("cargo:warning=installing libpcap-dev (tcpdump's filter compiler) with apt-get");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-q", "libpcap-dev"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-q"]).output();
            install();
        }
    }
    if !have_libpcap() {
        println!(
            "cargo:warning=libpcap is missing: install libpcap-dev (Debian, Ubuntu) or libpcap-devel (Fedora) and build again"
        );
    }
}
